//! Qualification at the command line: duplicates, rescoring, training the likelihood
//! model, backtests.

use crate::cli::LearnFrom;
use crate::progress::{Counter, progress_bar};
use anyhow::Result;
use leadgate_app::App;
use leadgate_app::export::Cells;
use leadgate_app::qualification::likelihood::TrainInput;

pub(crate) async fn duplicates(app: &App, reason: Option<String>, limit: usize) -> Result<()> {
    let started = std::time::Instant::now();
    let found =
        app.duplicates(&leadgate_app::DuplicateQuery { reason, limit: Some(limit) }).await.map_err(crate::exit::app)?;
    for p in &found.pairs {
        let reasons: Vec<&str> = p.reasons.iter().map(|r| r.as_str()).collect();
        let who = |c: &leadgate_app::identity::ContactSummary| {
            let name =
                [c.first_name.as_deref(), c.last_name.as_deref()].into_iter().flatten().collect::<Vec<_>>().join(" ");
            format!("{} {} {}", c.id, c.email.as_deref().unwrap_or("-"), name).trim_end().to_owned()
        };
        println!("{}\t{}\t{}", reasons.join(","), who(&p.contact), who(&p.other));
    }
    eprintln!(
        "{} likely duplicate pairs ({} shown) in {:.1} s; merge with POST /v1/contacts/{{id}}/merge",
        found.total,
        found.pairs.len(),
        started.elapsed().as_secs_f64()
    );
    Ok(())
}

pub(crate) async fn rescore(app: &App) -> Result<()> {
    let total = app.live_contacts().await?.max(0) as u64;
    let bar = progress_bar(total, "{spinner} rescoring [{bar:40}] {pos}/{len} contacts ({eta} left)");
    let report = app.rescore(&Counter(bar.clone())).await.map_err(crate::exit::app);
    bar.finish_and_clear();
    let report = report?;
    println!(
        "rescored {} contacts with {} in {:.1} s; {} with scores changed, {} moved by a lead definition",
        report.assessed.contacts, report.model, report.seconds, report.assessed.scores_changed, report.assessed.moved
    );
    for f in &report.assessed.failures {
        eprintln!("{}: could not be evaluated for {} contacts: {}", f.rule, f.contacts, f.first_message);
    }
    Ok(())
}

fn train_input(learn_from: LearnFrom, budget: Option<f32>) -> TrainInput {
    let LearnFrom { target, exclude, horizon_days } = learn_from;
    TrainInput { target, horizon_days, exclude, budget }
}

pub(crate) async fn examples(app: &App, learn_from: LearnFrom, out: Option<&std::path::Path>, raw: bool) -> Result<()> {
    let total = app.live_contacts().await?.max(0) as u64;
    let bar = progress_bar(total, "{spinner} reading [{bar:40}] {pos}/{len} contacts ({eta} left)");
    let mut output = crate::output::Output::open(out)?;
    let cells = if raw { Cells::Raw } else { Cells::SpreadsheetSafe };
    let input = train_input(learn_from, None);
    let written = app.likelihood_examples(input, cells, output.writer(), &Counter(bar.clone())).await;
    bar.finish_and_clear();
    match written {
        Ok(n) => {
            output.finish()?;
            if let Some(path) = out {
                eprintln!("{n} contacts with a known outcome written to {}", path.display());
            }
            Ok(())
        }
        Err(e) => {
            output.discard();
            Err(crate::exit::app(e))
        }
    }
}

pub(crate) async fn train(app: &std::sync::Arc<App>, learn_from: LearnFrom, budget: Option<f32>) -> Result<()> {
    let input = train_input(learn_from, budget);
    let total = app.live_contacts().await?.max(0) as u64;
    let bar = progress_bar(total, "{spinner} {msg} [{bar:40}] {pos}/{len} contacts ({eta} left)");
    bar.set_message("reading, then rescoring");
    let report = app
        .train_likelihood(input, &leadgate_core::Actor::Operator, &Counter(bar.clone()))
        .await
        .map_err(crate::exit::app);
    bar.finish_and_clear();
    let r = report?;
    let e = &r.model.evaluation;
    println!(
        "{}: reaching {} within {} days, learned from {} contacts that did and {} that did not ({} not known yet, scored only)",
        r.model.label(),
        r.model.options.target,
        r.model.options.horizon_days,
        e.positives,
        e.negatives,
        e.unknown
    );
    println!(
        "{}-fold cross-validated ROC AUC {:.3}, Brier score {:.4} (guessing the base rate: {:.4}); {} features in {} columns",
        e.folds, e.roc_auc, e.brier, e.brier_base_rate, e.features, e.columns
    );
    print_reliability(&e.reliability);
    for warning in &e.warnings {
        eprintln!("warning: {warning}");
    }
    println!(
        "{} contacts scored; {:.1} s reading, {:.1} s learning, {:.1} s in all",
        r.rescored.assessed.contacts, r.seconds_reading, r.seconds_learning, r.seconds
    );
    Ok(())
}

/// The reliability table: whether contacts given a likelihood reach the target that often.
fn print_reliability(table: &[leadgate_core::likelihood::calibration::ReliabilityBin]) {
    let contacts: u64 = table.iter().map(|b| b.contacts).sum();
    if contacts == 0 {
        return;
    }
    let weighted = |f: fn(&leadgate_core::likelihood::calibration::ReliabilityBin) -> f64| {
        table.iter().map(|b| f(b) * b.contacts as f64).sum::<f64>() / contacts as f64
    };
    println!(
        "reliability, cross-validated: mean likelihood {:.3}, observed rate {:.3}",
        weighted(|b| b.mean_predicted),
        weighted(|b| b.observed_rate)
    );
    println!("  {:>6}  {:>8}  {:>14}  {:>13}", "decile", "contacts", "mean predicted", "observed rate");
    for (i, b) in table.iter().enumerate() {
        println!("  {:>6}  {:>8}  {:>14.3}  {:>13.3}", i + 1, b.contacts, b.mean_predicted, b.observed_rate);
    }
}

pub(crate) struct BacktestArgs {
    pub(crate) name: String,
    pub(crate) as_of: String,
    pub(crate) version: Option<i64>,
    pub(crate) expression: Option<String>,
    pub(crate) against: Option<i64>,
    pub(crate) from: Option<String>,
    pub(crate) to: Option<String>,
}

pub(crate) async fn backtest(app: &App, args: BacktestArgs) -> Result<()> {
    let BacktestArgs { name, as_of, version, expression, against, from, to } = args;
    let input = leadgate_app::qualification::backtest::BacktestInput {
        version,
        expression,
        as_of,
        created_from: from,
        created_to: to,
        sample: Some(10),
        against,
    };
    let r = app.backtest(&name, input).await.map_err(crate::exit::app)?;
    println!(
        "{} ({}) as of {}: {} contacts, {} of whom became customers later ({:.1} s)",
        r.name,
        r.kind,
        r.as_of.to_rfc3339(),
        r.contacts,
        r.customers,
        r.seconds
    );
    let pct = |v: Option<f64>| v.map_or("-".to_owned(), |v| format!("{:.1} %", v * 100.0));
    println!(
        "{:<16} {:>9} {:>8} {:>12} {:>9} {:>12} {:>10} {:>8}",
        "", "qualified", "sql", "opportunity", "customer", "value", "precision", "recall"
    );
    for s in std::iter::once(&r.draft).chain(r.active.iter()) {
        let t = &s.tally;
        println!(
            "{:<16} {:>9} {:>8} {:>12} {:>9} {:>12.2} {:>10} {:>8}",
            s.definition,
            t.qualified,
            t.reached_sql,
            t.reached_opportunity,
            t.reached_customer,
            t.value as f64 / 100.0,
            pct(t.precision),
            pct(t.recall)
        );
    }
    for (what, s) in [
        ("newly included", &r.newly_included),
        ("newly excluded", &r.newly_excluded),
        ("customers turned away", &r.customers_turned_away),
    ] {
        if s.count > 0 {
            let ids: Vec<String> = s.sample.iter().map(|c| c.contact_id.to_string()).collect();
            println!("{what}: {} (for example {})", s.count, ids.join(", "));
        }
    }
    for f in &r.failures {
        eprintln!("{}: could not be evaluated for {} contacts: {}", f.rule, f.contacts, f.first_message);
    }
    Ok(())
}
