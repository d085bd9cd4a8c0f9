//! Moving data in and out: imports, exports, demo data.

use crate::progress::{Bar, progress_bar};
use anyhow::{Context, Result, bail};
use leadgate_app::App;

pub(crate) async fn import(
    app: &App,
    file: &std::path::Path,
    mapping: Option<&std::path::Path>,
    preset: Option<&str>,
    dry_run: bool,
    raw: bool,
    report_to: Option<&std::path::Path>,
) -> Result<()> {
    use leadgate_app::import::{ImportOptions, ImportSource, choose_mapping};
    let text = mapping
        .map(|path| {
            std::fs::read_to_string(path)
                .map_err(|e| crate::exit::bad_input(format!("cannot read the mapping {}: {e}", path.display())))
        })
        .transpose()?;
    let (mut mapping, described) = choose_mapping(text.as_deref(), preset).map_err(crate::exit::app)?;
    mapping.spreadsheet_safe &= !raw;
    let input = std::fs::File::open(file)
        .map_err(|e| crate::exit::bad_input(format!("cannot open {}: {e}", file.display())))?;
    let size = input.metadata().map(|m| m.len()).unwrap_or(0);
    let bar = progress_bar(size, "{spinner} importing [{bar:40}] {bytes}/{total_bytes}, {msg} ({eta} left)");
    let started = std::time::Instant::now();
    let actor = leadgate_core::Actor::Operator;
    let source =
        ImportSource { file_name: file.file_name().map(|n| n.to_string_lossy().into_owned()), mapping: described };
    let input = std::io::BufReader::with_capacity(1 << 20, input);
    let result = match app.prepare_import(input, &mapping, source, ImportOptions { dry_run }, &actor).await {
        Ok(prepared) => app.run_import(prepared, &actor, &Bar(bar.clone())).await,
        Err(e) => Err(e),
    };
    bar.finish_and_clear();
    let report = result.map_err(|e| crate::exit::app(e).context(format!("{} was not imported", file.display())))?;
    let c = &report.counts;
    let verb = if dry_run { "would import" } else { "imported" };
    println!(
        "{verb} {} of {} rows in {:.1} s: {} contacts created, {} updated, {} unchanged; {} accounts, {} responses, \
         {} stage changes and {} events created",
        c.rows - c.rows_failed,
        c.rows,
        started.elapsed().as_secs_f64(),
        c.contacts_created,
        c.contacts_updated,
        c.contacts_unchanged,
        c.accounts_created,
        c.responses_created,
        c.stage_changes_created,
        c.events_created
    );
    if dry_run {
        println!("dry run: nothing was written");
    }
    const SHOWN: usize = 20;
    for e in report.errors.iter().take(SHOWN) {
        eprintln!(
            "line {}{}: {} ({})",
            e.row,
            e.column.as_ref().map(|c| format!(", column {c:?}")).unwrap_or_default(),
            e.message,
            e.code
        );
    }
    if report.error_count as usize > SHOWN {
        eprintln!(
            "… {} problems in all{}",
            report.error_count,
            if report_to.is_some() { "" } else { "; --report FILE writes them as JSON" }
        );
    }
    if let Some(path) = report_to {
        std::fs::write(path, serde_json::to_vec_pretty(&report)?)
            .with_context(|| format!("cannot write the report to {}", path.display()))?;
    }
    println!("import {}", report.id);
    if c.rows_failed == c.rows {
        return Err(crate::exit::bad_input("no row could be imported"));
    }
    Ok(())
}

pub(crate) async fn export(
    app: &App,
    kind: &str,
    format: &str,
    raw: bool,
    out: Option<&std::path::Path>,
) -> Result<()> {
    use leadgate_app::export::{Cells, ExportFormat, ExportKind};
    let kind = ExportKind::parse(kind).map_err(|e| crate::exit::usage(e.message))?;
    let format = ExportFormat::parse(format).map_err(|e| crate::exit::usage(e.message))?;
    let mut output = crate::output::Output::open(out)?;
    let bar = if out.is_some() { indicatif::ProgressBar::new_spinner() } else { indicatif::ProgressBar::hidden() };
    let started = std::time::Instant::now();
    let cells = if raw { Cells::Raw } else { Cells::SpreadsheetSafe };
    let mut export = app.start_export(kind, format, cells).map_err(crate::exit::app)?;
    while let Some(page) = app.export_page(&mut export).await.map_err(crate::exit::app)? {
        match output.writer().write_all(&page) {
            // The reader (`| head`) has seen enough.
            Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => return Ok(()),
            other => other?,
        }
        bar.set_message(format!("{} {} exported", export.rows(), kind.as_str()));
        bar.tick();
    }
    output.finish()?;
    bar.finish_and_clear();
    if let Some(path) = out {
        eprintln!(
            "exported {} {} to {} in {:.1} s (import it back with --preset {})",
            export.rows(),
            kind.as_str(),
            path.display(),
            started.elapsed().as_secs_f64(),
            kind.preset()
        );
    }
    Ok(())
}

pub(crate) async fn demo(app: &App, contacts: usize, seed: u64, activity: u32) -> Result<()> {
    let existing = app.stats().await?.contacts;
    if existing > 0 {
        bail!(
            "the database already holds {existing} contacts; load demo data into an empty one (e.g. --data-dir ./demo-data)"
        );
    }
    let bar =
        progress_bar(contacts as u64, "{spinner} demo data [{bar:40}] {pos}/{len} contacts ({per_sec}, {eta} left)");
    let started = std::time::Instant::now();
    let summary = app.load_demo(contacts, seed, activity, |n| bar.inc(n as u64)).await?;
    bar.finish_and_clear();
    println!(
        "loaded {} contacts, {} accounts, {} responses, {} stage changes, {} events, {} consent records and {} spend entries in {:.1} s",
        summary.contacts,
        summary.accounts,
        summary.responses,
        summary.stage_changes,
        summary.events,
        summary.consents,
        summary.spend_entries,
        started.elapsed().as_secs_f64()
    );
    let h = summary.handoff;
    println!(
        "{} users in 3 teams; {} contacts that reached mql lately handed over ({} SLAs breached), {} accepted and {} rejected; the others are routed as the server starts",
        h.users, h.handed_over, h.breached, h.accepted, h.rejected
    );
    Ok(())
}
