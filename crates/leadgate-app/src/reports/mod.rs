//! Reports: the funnel's numbers, computed from every live contact's history as it is
//! stored (docs/reports.md says each rule).

pub mod cells;
pub mod charts;
pub mod cohorts;
pub mod cost;
pub mod forecast;
pub mod inflow;
pub mod mix;
pub mod rejected;
pub(crate) mod summary;
pub mod waterfall;

use crate::App;
use crate::batch::{BatchesInFlight, LiveContacts};
use crate::error::{date, invalid};
use crate::{AppError, ErrorCode};
use leadgate_core::reports::{Grouping, Period, Selection, TooManyGroups, groupings};
use leadgate_core::response::Direction;
use leadgate_store::{
    AccountPart, ContactSnapshot, Contacts, Details, ResponseDetails, SnapshotParts, Store, StoredParts,
};
use serde::Deserialize;
use summary::Summary;
use uuid::Uuid;

/// What every report is asked with: which contacts (by when they entered the funnel,
/// and their direction), and how to group them.
#[derive(Debug, Clone, Default, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ReportQuery {
    /// One or two of: direction, channel, vendor, campaign, placement, action,
    /// obtained_via, offer, form, owner, separated by a comma. None: the totals alone.
    pub group_by: Option<String>,
    /// Contacts that entered the funnel from this date (`2026-01-01`, or RFC 3339),
    /// inclusive.
    pub from: Option<String>,
    /// …and before this date, exclusive.
    pub to: Option<String>,
    /// `inbound` or `outbound`: only contacts of that direction.
    pub direction: Option<String>,
    /// `json` (the default), `csv`, or `svg` (the report's chart).
    pub format: Option<String>,
}

/// A report's answer as asked: its numbers as JSON, or as a CSV table, or its chart.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Format {
    #[default]
    Json,
    Csv,
    Svg,
}

impl ReportQuery {
    /// The contacts selected and the groupings, or the first thing wrong with them.
    pub fn read(&self) -> Result<(Selection, Vec<Grouping>), AppError> {
        let group_by = groupings(self.group_by.as_deref().unwrap_or(""))
            .map_err(|m| invalid(ErrorCode::InvalidValue, "group_by", m))?;
        let from = self.from.as_deref().map(|s| date(s, "from")).transpose()?;
        let to = self.to.as_deref().map(|s| date(s, "to")).transpose()?;
        let period = Period::new(from, to).map_err(|e| invalid(ErrorCode::InvalidValue, "to", e.to_string()))?;
        let direction = self
            .direction
            .as_deref()
            .map(|d| {
                Direction::parse(d).ok_or_else(|| {
                    invalid(
                        ErrorCode::InvalidValue,
                        "direction",
                        format!("direction must be inbound or outbound, not {d:?}"),
                    )
                })
            })
            .transpose()?;
        Ok((Selection { period, direction }, group_by))
    }

    pub fn format(&self) -> Result<Format, AppError> {
        format_of(self.format.as_deref())
    }
}

/// The format a report is asked in.
pub fn format_of(format: Option<&str>) -> Result<Format, AppError> {
    match format.map(str::trim) {
        None | Some("json") => Ok(Format::Json),
        Some("csv") => Ok(Format::Csv),
        Some("svg") => Ok(Format::Svg),
        Some(other) => {
            Err(invalid(ErrorCode::InvalidValue, "format", format!("format must be json, csv or svg, not {other:?}")))
        }
    }
}

/// A grouping into more groups than a report counts is the caller's to change.
impl From<TooManyGroups> for AppError {
    fn from(e: TooManyGroups) -> Self {
        invalid(ErrorCode::InvalidValue, "group_by", e.to_string())
    }
}

/// A report's numbers as a table: its header, then its rows.
pub type Table = (Vec<String>, Vec<Vec<String>>);

/// A report's table as CSV, each cell safe to open in a spreadsheet (a campaign named
/// `=HYPERLINK(…)` is written as text).
pub fn csv_table((header, rows): Table) -> Vec<u8> {
    let mut w = csv::Writer::from_writer(Vec::new());
    for row in std::iter::once(header).chain(rows) {
        w.write_record(row.iter().map(|c| leadgate_core::spreadsheet::neutralise(c).into_owned()))
            .expect("writing CSV to memory cannot fail");
    }
    w.into_inner().expect("writing CSV to memory cannot fail")
}

/// What most reports read of each contact: its owner and channel, its stage steps, and
/// its responses with where, what and why they came.
pub(crate) fn report_parts() -> SnapshotParts {
    SnapshotParts {
        details: Details::NONE.with("owner").with("channel"),
        qualification: false,
        account: AccountPart::Nothing,
        custom: false,
        stage: true,
        stage_steps: true,
        responses: Some(
            ["campaign", "placement", "vendor", "obtained_via", "offer", "form_id"]
                .into_iter()
                .fold(ResponseDetails::IN_BRIEF, ResponseDetails::with),
        ),
        stored: StoredParts::None,
        created_by: None,
    }
}

impl App {
    /// `add` of every live contact's summary to `tally`, current to every change
    /// committed before it was called (see [`summary`]).
    pub(crate) async fn count_summaries<T: Send + 'static>(
        &self,
        mut tally: T,
        add: impl Fn(&mut T, &Summary) + Send + 'static,
    ) -> Result<T, AppError> {
        let count = move |all: &summary::Summaries| {
            all.values().for_each(|s| add(&mut tally, s));
            tally
        };
        self.summaries.read(self.store.as_ref(), count).await
    }

    /// Builds the reports' summaries if they are not yet, and brings them up to the
    /// change feed: what a server does as it starts, so that its first report is quick.
    pub async fn prepare_reports(&self) -> Result<(), AppError> {
        self.summaries.catch_up(self.store.as_ref()).await
    }

    /// Forgets the reports' summaries, so that the next report builds them from the
    /// stored history, as a restarted server would.
    pub async fn forget_report_summaries(&self) {
        self.summaries.forget().await
    }
}

/// Every live contact with `parts` of it read, made into a `T` by `make` as its batch
/// is read, given to `count` in id order (a walk over the whole database: callers hold
/// a heavy-work ration).
pub(crate) async fn walk<T>(
    store: &dyn Store,
    parts: SnapshotParts,
    make: fn(ContactSnapshot) -> T,
    mut count: impl FnMut(T),
) -> Result<(), AppError> {
    let mut in_hand = BatchesInFlight::new(LiveContacts::new(store));
    loop {
        while let Some(ids) = in_hand.next_batch().await? {
            in_hand.start(read_batch(store, ids, parts, make));
        }
        let Some(read) = in_hand.next_done().await else { break };
        read?.into_iter().for_each(&mut count);
    }
    Ok(())
}

/// The contacts a report lists (a page, the few won back), with `details` alone, by id.
pub(crate) async fn listed_contacts(
    store: &dyn Store,
    ids: &[Uuid],
    details: Details,
) -> Result<std::collections::HashMap<Uuid, leadgate_core::model::Contact>, AppError> {
    let parts = SnapshotParts {
        details,
        qualification: false,
        account: AccountPart::Nothing,
        custom: false,
        stage: false,
        stage_steps: false,
        responses: None,
        stored: StoredParts::None,
        created_by: None,
    };
    let snapshots = store.contact_snapshots(Contacts::Ids(ids), parts).await?;
    Ok(snapshots.into_iter().map(|s| (s.contact.id, s.contact)).collect())
}

async fn read_batch<T>(
    store: &dyn Store,
    ids: Vec<Uuid>,
    parts: SnapshotParts,
    make: fn(ContactSnapshot) -> T,
) -> Result<Vec<T>, AppError> {
    Ok(store.contact_snapshots(Contacts::Run(&ids), parts).await?.into_iter().map(make).collect())
}
