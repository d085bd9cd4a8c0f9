//! Reports at the command line: a table to read, or the API's JSON or CSV.

use crate::cli::{ReportOutput, ReportSelection};
use anyhow::{Context, Result, bail};
use leadgate_app::App;
use leadgate_app::export::amount as money;
use leadgate_app::reports::forecast::ForecastQuery;
use leadgate_app::reports::{ReportQuery, Table, charts, csv_table};
use leadgate_app::spend::SpendQuery;
use leadgate_core::Actor;
use leadgate_core::Stage;
use leadgate_core::reports::cohorts::Cohorts;
use leadgate_core::reports::cost::Cost;
use leadgate_core::reports::forecast::{Expected, Forecast};
use leadgate_core::reports::inflow::Inflow;
use leadgate_core::reports::mix::FunnelMix;
use leadgate_core::reports::rejected::RejectedThenWon;
use leadgate_core::reports::waterfall::Waterfall;
use std::io::Write;

fn query(s: &ReportSelection) -> Result<ReportQuery> {
    check_format(&s.written)?;
    Ok(ReportQuery {
        group_by: s.group_by.clone(),
        from: s.from.clone(),
        to: s.to.clone(),
        direction: s.direction.clone(),
        format: None,
    })
}

fn check_format(w: &ReportOutput) -> Result<()> {
    if !matches!(w.format.as_str(), "table" | "json" | "csv") {
        bail!("--format must be table, json or csv, not {:?}", w.format);
    }
    Ok(())
}

pub(crate) async fn waterfall(app: &App, select: ReportSelection) -> Result<()> {
    let w = app.waterfall(&query(&select)?).await.map_err(crate::exit::app)?;
    write(&select.written, &w, Waterfall::table, waterfall_text, charts::waterfall)
}

pub(crate) async fn cohorts(app: &App, select: ReportSelection) -> Result<()> {
    let c = app.cohorts(&query(&select)?).await.map_err(crate::exit::app)?;
    write(&select.written, &c, Cohorts::table, cohorts_text, charts::cohorts)
}

pub(crate) async fn inflow(app: &App, select: ReportSelection) -> Result<()> {
    let i = app.inflow(&query(&select)?).await.map_err(crate::exit::app)?;
    write(&select.written, &i, Inflow::table, inflow_text, charts::inflow)
}

pub(crate) async fn cost(app: &App, select: ReportSelection) -> Result<()> {
    let c = app.cost(&query(&select)?).await.map_err(crate::exit::app)?;
    write(&select.written, &c, Cost::table, cost_text, charts::cost)
}

pub(crate) async fn rejected_then_won(app: &App, select: ReportSelection) -> Result<()> {
    let r = app.rejected_then_won(&query(&select)?).await.map_err(crate::exit::app)?;
    write(&select.written, &r, RejectedThenWon::table, rejected_text, charts::rejected_then_won)
}

pub(crate) async fn funnel_mix(app: &App, select: ReportSelection) -> Result<()> {
    let m = app.funnel_mix(&query(&select)?).await.map_err(crate::exit::app)?;
    write(&select.written, &m, FunnelMix::table, mix_text, charts::funnel_mix)
}

pub(crate) async fn forecast(app: &App, as_of: Option<String>, months: u32, written: ReportOutput) -> Result<()> {
    check_format(&written)?;
    let q = ForecastQuery { as_of, months: Some(months), format: None };
    let f = app.forecast(&q).await.map_err(crate::exit::app)?;
    write(&written, &f, Forecast::table, forecast_text, charts::forecast)
}

pub(crate) async fn spend_import(app: &App, file: &std::path::Path) -> Result<()> {
    let bytes = std::fs::read(file).with_context(|| format!("cannot read {}", file.display()))?;
    let entries = App::spend_csv(&bytes).map_err(crate::exit::app)?;
    let recorded = app.record_spend(entries, &Actor::Operator).await.map_err(crate::exit::app)?;
    let total: i64 = recorded.iter().map(|e| e.amount).sum();
    let currency = app.currency().await.map_err(crate::exit::app)?;
    println!("recorded {} spend entries, {} {currency} in all", recorded.len(), money(total));
    Ok(())
}

pub(crate) async fn spend_list(app: &App) -> Result<()> {
    let mut rows = Vec::new();
    let mut after = None;
    loop {
        let q = SpendQuery { after, limit: Some(1_000), ..SpendQuery::default() };
        let page = app.spend_page(&q).await.map_err(crate::exit::app)?;
        rows.extend(page.entries.into_iter().map(|e| {
            let text = |v: Option<String>| v.unwrap_or_default();
            vec![
                e.id.to_string(),
                e.from.to_rfc3339(),
                e.to.to_rfc3339(),
                e.amount.to_string(),
                page.currency.clone(),
                e.amount_given.to_string(),
                e.currency_given,
                e.rate.map(|r| r.to_string()).unwrap_or_default(),
                e.direction.map(|d| d.as_str().to_owned()).unwrap_or_default(),
                text(e.channel),
                text(e.vendor),
                text(e.campaign),
                text(e.offer),
                text(e.note),
            ]
        }));
        match page.next_after {
            Some(next) => after = Some(next),
            None => break,
        }
    }
    let header = [
        "id",
        "from",
        "to",
        "amount",
        "currency",
        "amount_given",
        "currency_given",
        "rate",
        "direction",
        "channel",
        "vendor",
        "campaign",
        "offer",
        "note",
    ];
    std::io::stdout().write_all(&csv_table((header.map(str::to_owned).to_vec(), rows)))?;
    Ok(())
}

pub(crate) async fn currency(app: &App, code: Option<&str>) -> Result<()> {
    let settings = match code {
        Some(code) => app.set_currency(code, &Actor::Operator).await,
        None => app.settings().await,
    }
    .map_err(crate::exit::app)?;
    println!("{}", settings.currency);
    Ok(())
}

/// Writes `report` in the format asked, to the file asked (whole, or not at all), and
/// its chart to the `--svg` file when one is asked.
fn write<T: serde::Serialize>(
    select: &ReportOutput,
    report: &T,
    table: impl FnOnce(&T) -> Table,
    text: impl FnOnce(&T) -> String,
    chart: impl FnOnce(&T) -> Result<String, leadgate_app::AppError>,
) -> Result<()> {
    if let Some(path) = &select.svg {
        let drawn = chart(report).map_err(crate::exit::app)?;
        let mut svg = crate::output::Output::open(Some(path))?;
        match svg.writer().write_all(drawn.as_bytes()) {
            Ok(()) => svg.finish()?,
            Err(e) => {
                svg.discard();
                return Err(e.into());
            }
        }
    }
    let mut output = crate::output::Output::open(select.output.as_deref())?;
    let written = match select.format.as_str() {
        "json" => serde_json::to_writer_pretty(output.writer(), report).map_err(anyhow::Error::from),
        "csv" => output.writer().write_all(&csv_table(table(report))).map_err(anyhow::Error::from),
        _ => output.writer().write_all(text(report).as_bytes()).map_err(anyhow::Error::from),
    };
    match written {
        Ok(()) => output.finish(),
        Err(e) => {
            output.discard();
            Err(e)
        }
    }
}

/// The waterfall for reading: each group, then the totals, a line per stage.
fn waterfall_text(w: &Waterfall) -> String {
    let pct = |v: Option<f64>| v.map_or("-".to_owned(), |v| format!("{:.1} %", v * 100.0));
    let days = |v: Option<f64>| v.map_or("-".to_owned(), |v| format!("{v:.1}"));
    let mut out = String::new();
    let totals = std::iter::once(("all contacts".to_owned(), &w.totals));
    let named = w.groups.iter().map(|g| (charts::group_name(&g.group), g));
    for (name, g) in named.chain(totals) {
        out.push_str(&format!(
            "{name}\n  {:<12} {:>9} {:>10} {:>10} {:>12} {:>10}\n",
            "stage", "contacts", "from prev", "from first", "median days", "p90 days"
        ));
        for s in &g.stages {
            out.push_str(&format!(
                "  {:<12} {:>9} {:>10} {:>10} {:>12} {:>10}\n",
                s.stage.as_str(),
                s.count,
                pct(s.conversion_from_previous),
                pct(s.conversion_from_first),
                days(s.median_days_from_previous),
                days(s.p90_days_from_previous)
            ));
        }
    }
    out.push_str(&format!("left out: {} disqualified contacts\n", w.excluded.disqualified));
    out
}

/// Cohorts for reading: for the mql, sql and customer stages, a line per month of entry
/// with the share that had reached the stage by each month after.
fn cohorts_text(c: &Cohorts) -> String {
    let mut out = String::new();
    for stage in [Stage::Mql, Stage::Sql, Stage::Customer] {
        out.push_str(&format!("{stage}: share reached by month after entry (0 = the month of entry)\n"));
        out.push_str(&format!("  {:<8} {:>9}  months after: 0, 1, 2, …\n", "month", "contacts"));
        for cohort in &c.cohorts {
            let shares: Vec<String> = cohort
                .stages
                .iter()
                .filter(|s| s.stage == stage)
                .flat_map(|s| s.by_month.iter().map(|m| format!("{:>5.1} %", m.share * 100.0)))
                .collect();
            out.push_str(&format!("  {:<8} {:>9}  {}\n", cohort.month.to_string(), cohort.contacts, shares.join(" ")));
        }
    }
    out.push_str(&format!("left out: {} disqualified contacts\n", c.excluded.disqualified));
    out
}

/// Cost for reading: each group's spend, value won and return, then its cost per stage.
fn cost_text(c: &Cost) -> String {
    let mut out = format!("amounts in {}\n", c.currency);
    let named = c.groups.iter().map(|g| (charts::group_name(&g.group), g));
    for (name, g) in named.chain(std::iter::once(("all contacts".to_owned(), &c.totals))) {
        out.push_str(&format!(
            "{name}\n  spend {}, value won {}, return on spend {}\n  {:<12} {:>9} {:>14}\n",
            money(g.spend),
            money(g.value_won),
            g.return_on_spend.map_or("-".to_owned(), |r| format!("{r:.2}")),
            "stage",
            "contacts",
            "cost per"
        ));
        for s in &g.stages {
            let per = s.cost_per.map_or("-".to_owned(), money);
            out.push_str(&format!("  {:<12} {:>9} {:>14}\n", s.stage.as_str(), s.count, per));
        }
    }
    out.push_str(&format!("left out: {} disqualified contacts\n", c.excluded.disqualified));
    out
}

/// Rejected, then won for reading: a line per month of rejection, then the contacts
/// won back.
fn rejected_text(r: &RejectedThenWon) -> String {
    let mut out = format!(
        "by month of rejection\n  {:<8} {:>9} {:>9} {:>10} {:>10} {:>14}\n",
        "month", "rejected", "won back", "customers", "share", "value"
    );
    let months = r.months.iter().map(|m| (m.month.to_string(), &m.outcomes));
    for (month, o) in months.chain(std::iter::once(("all".to_owned(), &r.totals))) {
        out.push_str(&format!(
            "  {:<8} {:>9} {:>9} {:>10} {:>10} {:>14}\n",
            month,
            o.rejected,
            o.won_back,
            o.customers,
            o.share_won_back.map_or("-".to_owned(), |s| format!("{:.1} %", s * 100.0)),
            money(o.value)
        ));
    }
    out.push_str(&format!("won back ({} listed, the latest first)\n", r.contacts.len()));
    for c in &r.contacts {
        out.push_str(&format!(
            "  {} {} on {}, {} after {:.0} days ({} responses, {} events between){}{}\n",
            c.email.as_deref().unwrap_or("(erased)"),
            c.rejected_to,
            &c.rejected_at.to_rfc3339()[..10],
            c.won_stage,
            c.days_between,
            c.responses_between,
            c.events_between,
            c.value.map_or(String::new(), |v| format!(", value {}", money(v))),
            c.reason.as_deref().map_or(String::new(), |r| format!(", rejected: {r}"))
        ));
    }
    out
}

/// The funnel mix for reading: a line per month.
fn mix_text(m: &FunnelMix) -> String {
    let mut out = format!(
        "contacts at the end of each month\n  {:<8} {:>9} {:>9} {:>9} {:>9} {:>9} {:>9} {:>9}\n",
        "month", "top", "middle", "bottom", "customer", "nurture", "out", "all"
    );
    for p in &m.months {
        out.push_str(&format!(
            "  {:<8} {:>9} {:>9} {:>9} {:>9} {:>9} {:>9} {:>9}\n",
            p.month.to_string(),
            p.top,
            p.middle,
            p.bottom,
            p.customer,
            p.nurture,
            p.out,
            p.contacts
        ));
    }
    out
}

/// Inflow for reading: a line per group with its total, mean, trend and variation.
fn inflow_text(i: &Inflow) -> String {
    let mut out = format!(
        "{} weeks from {} to {}\n  {:<40} {:>8} {:>10} {:>12} {:>10}\n",
        i.weeks.len(),
        i.weeks.first().map_or("-", String::as_str),
        i.weeks.last().map_or("-", String::as_str),
        "group",
        "total",
        "per week",
        "trend/week",
        "variation"
    );
    let named = i.groups.iter().map(|g| (charts::group_name(&g.group), g));
    for (name, g) in named.chain(std::iter::once(("all responses".to_owned(), &i.totals))) {
        let opt = |v: Option<f64>| v.map_or("-".to_owned(), |v| format!("{v:+.2}"));
        out.push_str(&format!(
            "  {:<40} {:>8} {:>10} {:>12} {:>10}\n",
            name,
            g.total,
            g.mean_per_week.map_or("-".to_owned(), |v| format!("{v:.1}")),
            opt(g.trend_per_week),
            g.variation.map_or("-".to_owned(), |v| format!("{v:.2}"))
        ));
    }
    out
}

/// The forecast for reading: for each direction and measure, a line per month with
/// the expectation, its interval and, where the month is over, what happened and the
/// error.
fn forecast_text(f: &Forecast) -> String {
    let mut out = format!(
        "made at {} from what happened before; {:.0} % intervals; value in {}\n",
        f.made_at.to_rfc3339(),
        f.confidence * 100.0,
        f.currency
    );
    let recent: Vec<String> = f.recent_months.iter().map(|m| m.to_string()).collect();
    for d in &f.directions {
        out.push_str(&format!("{}\n", d.direction.as_str()));
        let named = std::iter::once(("entered", &d.entered, false))
            .chain(d.stages.iter().map(|s| (s.stage.as_str(), &s.line, false)))
            .chain(std::iter::once(("value", &d.value, true)));
        for (measure, line, is_money) in named {
            let show = |v: f64| if is_money { money(v.round() as i64) } else { format!("{v:.1}") };
            let shown: Vec<String> =
                line.recent.iter().map(|&n| if is_money { money(n) } else { n.to_string() }).collect();
            out.push_str(&format!(
                "  {measure}: recent ({} … {}) {}\n",
                recent[0],
                recent[recent.len() - 1],
                shown.join(", ")
            ));
            for Expected { month, expected, low, high, actual, .. } in &line.months {
                let happened = match actual {
                    Some(a) => {
                        let a_shown = if is_money { money(*a) } else { a.to_string() };
                        let error = match *a {
                            0 => String::new(),
                            a => format!(" ({:+.0} %)", (expected - a as f64) / a as f64 * 100.0),
                        };
                        format!("  actual {a_shown}, off by {}{error}", show(expected - *a as f64))
                    }
                    None => String::new(),
                };
                out.push_str(&format!(
                    "    {month}  expected {:>12}  interval {} to {}{happened}\n",
                    show(*expected),
                    show(*low),
                    show(*high)
                ));
            }
        }
    }
    out
}
