//! Reports at the command line: a table to read, or the API's JSON or CSV.

use crate::cli::ReportSelection;
use anyhow::{Result, bail};
use leadgate_app::App;
use leadgate_app::reports::{ReportQuery, csv_table};
use leadgate_core::reports::waterfall::Waterfall;

fn query(s: &ReportSelection) -> Result<ReportQuery> {
    if !matches!(s.format.as_str(), "table" | "json" | "csv") {
        bail!("--format must be table, json or csv, not {:?}", s.format);
    }
    Ok(ReportQuery {
        group_by: s.group_by.clone(),
        from: s.from.clone(),
        to: s.to.clone(),
        direction: s.direction.clone(),
        format: None,
    })
}

pub(crate) async fn waterfall(app: &App, select: ReportSelection) -> Result<()> {
    let q = query(&select)?;
    let w = app.waterfall(&q).await.map_err(crate::exit::app)?;
    let mut output = crate::output::Output::open(select.output.as_deref())?;
    let written = match select.format.as_str() {
        "json" => serde_json::to_writer_pretty(output.writer(), &w).map_err(anyhow::Error::from),
        "csv" => output.writer().write_all(&csv_table(w.table())).map_err(anyhow::Error::from),
        _ => output.writer().write_all(table(&w).as_bytes()).map_err(anyhow::Error::from),
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
fn table(w: &Waterfall) -> String {
    let pct = |v: Option<f64>| v.map_or("-".to_owned(), |v| format!("{:.1} %", v * 100.0));
    let days = |v: Option<f64>| v.map_or("-".to_owned(), |v| format!("{v:.1}"));
    let mut out = String::new();
    let totals = std::iter::once(("all contacts".to_owned(), &w.totals));
    let named = w.groups.iter().map(|g| {
        let name: Vec<String> =
            g.group.iter().map(|(k, v)| format!("{k}={}", v.as_deref().unwrap_or("(none)"))).collect();
        (name.join(" "), g)
    });
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
