//! The leadgate binary: the server and the operator's commands.

mod config;

// Request handling allocates many small short-lived values (JSON trees, strings);
// mimalloc serves those faster than the system allocator.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

use anyhow::{Context, Result, bail};
use clap::{Args, Parser, Subcommand};
use config::{Config, Overrides};
use leadgate_app::{App, AppOptions, FormInput, SystemClock};
use leadgate_core::Role;
use leadgate_core::model::InboxStatus;
use leadgate_store::{SqliteOptions, Store};
use std::io::Write;
use std::path::PathBuf;
use std::sync::Arc;
use uuid::Uuid;

/// leadgate: B2B lead management. Captures every inquiry and list entry, decides which
/// are leads, and keeps everything so the numbers can be trusted.
#[derive(Parser)]
#[command(version, about)]
struct Cli {
    #[command(flatten)]
    global: Global,
    #[command(subcommand)]
    command: Command,
}

#[derive(Args)]
struct Global {
    /// Configuration file (default: ./leadgate.toml if it exists).
    #[arg(long, global = true)]
    config: Option<PathBuf>,
    /// Directory of the embedded database [default: ./leadgate-data].
    #[arg(long, global = true)]
    data_dir: Option<PathBuf>,
    /// PostgreSQL URL (postgres://…); without it the embedded SQLite is used.
    #[arg(long, global = true, hide_env_values = true)]
    database_url: Option<String>,
}

#[derive(Subcommand)]
enum Command {
    /// Run the server.
    Serve {
        /// Address to listen on [default: 127.0.0.1:8080]; port 0 picks a free one.
        #[arg(long)]
        listen: Option<String>,
        /// Load demo data first if the database is empty (5,000 contacts).
        #[arg(long)]
        demo: bool,
    },
    /// Apply database migrations and exit (the server also applies them at start).
    Migrate,
    /// Manage API keys.
    #[command(subcommand)]
    Apikey(ApikeyCommand),
    /// Manage web forms.
    #[command(subcommand)]
    Form(FormCommand),
    /// Load realistic, deterministic demo data.
    Demo {
        /// How many contacts to create.
        #[arg(long, default_value_t = 5_000)]
        contacts: usize,
        /// Seed of the generator: the same seed gives the same data.
        #[arg(long, default_value_t = 42)]
        seed: u64,
        /// Times the usual activity: 1 gives about two events a contact, 5 about ten.
        #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..=50))]
        activity: u32,
    },
    /// Inspect and replay stored inquiries.
    #[command(subcommand)]
    Inbox(InboxCommand),
    /// Import a CSV file of contacts, their history and outcomes (see docs/import.md).
    Import {
        /// The CSV file.
        file: PathBuf,
        /// The mapping of the file's columns (TOML).
        #[arg(long, conflicts_with = "preset", required_unless_present = "preset")]
        mapping: Option<PathBuf>,
        /// A built-in mapping instead: hubspot, salesforce, or leadgate-contacts,
        /// leadgate-responses, leadgate-stage-changes, leadgate-events for files of
        /// `leadgate export`.
        #[arg(long)]
        preset: Option<String>,
        /// Read and check everything, report what would happen, write nothing.
        #[arg(long)]
        dry_run: bool,
        /// Write the whole report (counts and the first 1,000 row errors) as JSON here.
        #[arg(long)]
        report: Option<PathBuf>,
    },
    /// Export contacts, responses, stage_changes or events as CSV (which `import` reads
    /// back with the leadgate-* presets) or JSON Lines.
    Export {
        /// contacts, responses, stage_changes or events.
        kind: String,
        /// csv or jsonl.
        #[arg(long, default_value = "csv")]
        format: String,
        /// The file to write; standard output if not given.
        #[arg(long, short)]
        out: Option<PathBuf>,
    },
    /// List likely duplicate contacts, with the reason for each pair.
    Duplicates {
        /// Only pairs with this reason: same_mailbox, same_name_at_account, similar_email.
        #[arg(long)]
        reason: Option<String>,
        /// Pairs shown at most.
        #[arg(long, default_value_t = 100)]
        limit: usize,
    },
    /// Score, grade and requalify every contact with the active scoring model and lead
    /// definitions (after changing them, or after an import).
    Rescore,
    /// The predictive score: `leadgate model train` learns the likelihood of reaching a
    /// stage from the contacts whose outcome is known, and scores every contact with it.
    #[command(subcommand)]
    Model(ModelCommand),
    /// Run a lead definition on the contacts as they were at a date, beside the active
    /// version, against how they actually ended.
    Backtest {
        /// The definition.
        name: String,
        /// The date the contacts are taken as they were (2026-01-01 or RFC 3339).
        #[arg(long)]
        as_of: String,
        /// A saved version to test (default: the latest).
        #[arg(long, conflicts_with = "expression")]
        version: Option<i64>,
        /// A draft expression to test instead, without saving it.
        #[arg(long)]
        expression: Option<String>,
        /// Compare with this version instead of the active one.
        #[arg(long)]
        against: Option<i64>,
        /// Only contacts created on or after this date.
        #[arg(long)]
        from: Option<String>,
        /// Only contacts created before this date.
        #[arg(long)]
        to: Option<String>,
    },
}

#[derive(Subcommand)]
enum ApikeyCommand {
    /// Create a key; the key itself is printed once, as the last line.
    Create {
        #[arg(long)]
        name: String,
        /// admin, marketing, sales or readonly.
        #[arg(long, value_parser = parse_role)]
        role: Role,
    },
    /// List keys (names and roles; keys are stored hashed and cannot be shown).
    List,
    /// Revoke a key by its id (see `apikey list`); running servers stop accepting it
    /// within 30 seconds.
    Revoke { id: Uuid },
}

#[derive(Subcommand)]
enum FormCommand {
    /// Create a web form; prints its public form key as the last line.
    Create {
        #[arg(long)]
        name: String,
        #[arg(long)]
        channel: Option<String>,
        #[arg(long)]
        offer: Option<String>,
        #[arg(long)]
        campaign: Option<String>,
        /// Origin allowed to post from a browser (repeatable); none means any.
        #[arg(long = "origin")]
        origins: Vec<String>,
    },
}

#[derive(Subcommand)]
enum ModelCommand {
    /// Learn the likelihood model again from the contacts whose outcome is known, report
    /// its cross-validated ROC AUC and Brier score, and score every contact with it.
    Train {
        /// The stage to predict reaching (default customer).
        #[arg(long)]
        target: Option<String>,
        /// Features to leave out, against leakage: names, or prefixes ending in `*`
        /// (`--exclude 'custom.sales_*,custom.tags'`).
        #[arg(long, value_delimiter = ',')]
        exclude: Option<Vec<String>>,
        /// Reaching the target later than this many days after creation counts as not
        /// (default 365).
        #[arg(long)]
        horizon_days: Option<i64>,
        /// The learner's budget (default 1.0; 0.1 to 3): more fits longer, may fit better.
        #[arg(long)]
        budget: Option<f32>,
    },
}

#[derive(Subcommand)]
enum InboxCommand {
    /// List stored inquiries (default: those not processed).
    List {
        /// pending, processed, rejected or failed.
        #[arg(long)]
        status: Option<String>,
        #[arg(long, default_value_t = 100)]
        limit: i64,
    },
    /// Process stored inquiries again.
    Replay {
        /// Inbox item ids; with --all, every pending and failed item.
        ids: Vec<Uuid>,
        #[arg(long)]
        all: bool,
    },
}

fn parse_role(s: &str) -> Result<Role, String> {
    Role::parse(s).ok_or_else(|| format!("unknown role {s:?}; roles are admin, marketing, sales, readonly"))
}

fn main() -> Result<()> {
    without_transparent_huge_pages();
    let cli = Cli::parse();
    let listen = match &cli.command {
        Command::Serve { listen, .. } => listen.clone(),
        _ => None,
    };
    let overrides =
        Overrides { data_dir: cli.global.data_dir.clone(), listen, database_url: cli.global.database_url.clone() };
    let config = Config::load(cli.global.config.as_deref(), overrides)?;
    init_tracing(&config);
    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    rt.block_on(run(cli.command, config))
}

/// Memory is handed out a page (4 KiB) at a time rather than 2 MiB at once. The
/// allocator asks for huge pages, and the kernel then zeroes (and, when memory is
/// fragmented, first compacts) 2 MiB on the first touch of each: a backtest that frees
/// and takes its batches' memory over and over spent up to 15 % of its time there, more
/// or less from run to run with the state of the machine's memory (docs/benchmarks.md).
/// The flag is the whole process's (its threads share one address space); it is set
/// before any other thread starts.
fn without_transparent_huge_pages() {
    #[cfg(target_os = "linux")]
    if let Err(e) = rustix::thread::disable_transparent_huge_pages(true) {
        // Only slower without it: carry on.
        eprintln!("note: transparent huge pages stay on for this process: {e}");
    }
}

fn init_tracing(config: &Config) {
    use tracing_subscriber::EnvFilter;
    let filter =
        EnvFilter::try_from_env("LEADGATE_LOG").unwrap_or_else(|_| EnvFilter::new("info,sqlx=warn,perpetual=warn"));
    let builder = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr);
    if config.log_format == "json" {
        builder.json().init();
    } else {
        builder.init();
    }
}

async fn open_store(config: &Config) -> Result<Arc<dyn Store>> {
    let url = config.database();
    if config.external_database().is_none() {
        std::fs::create_dir_all(&config.data_dir)
            .with_context(|| format!("cannot create the data directory {}", config.data_dir.display()))?;
    }
    let sqlite = SqliteOptions { full_sync: config.sqlite_full_sync, ..SqliteOptions::default() };
    leadgate_store::open(&url, sqlite).await.with_context(|| match config.external_database() {
        Some(_) => "cannot open the database named by database_url".to_owned(),
        None => format!("cannot open {url}"),
    })
}

async fn run(command: Command, config: Config) -> Result<()> {
    let store = open_store(&config).await?;
    let app = App::new(store.clone(), Arc::new(SystemClock), AppOptions::for_backend(store.backend()));
    let done = run_command(command, &config, app).await;
    // Closing the store leaves the database whole in its file (SQLite's last connection
    // to close copies the WAL into it and removes it) rather than leaving a WAL to the
    // next command: a rescore leaves tens to hundreds of megabytes of it, which a
    // backtest run next read page by page through the WAL's index, with a system call
    // for each page (docs/benchmarks.md).
    store.close().await;
    done
}

async fn run_command(command: Command, config: &Config, app: Arc<App>) -> Result<()> {
    match command {
        Command::Serve { demo: with_demo, .. } => {
            if with_demo {
                match app.store().totals().await?.contacts {
                    0 => demo(&app, 5_000, 42, 1).await?,
                    n => eprintln!("the database already holds {n} contacts: no demo data loaded"),
                }
            }
            serve(app, config).await
        }
        Command::Migrate => {
            println!("database is up to date ({})", app.store().backend());
            Ok(())
        }
        Command::Apikey(ApikeyCommand::Create { name, role }) => {
            let created = app.create_api_key(&name, role).await?;
            println!("created API key {:?} with role {} (id {})", created.key.name, role, created.key.id);
            println!("store it now: it is kept only as a hash and cannot be shown again");
            println!("{}", created.secret);
            Ok(())
        }
        Command::Apikey(ApikeyCommand::List) => {
            for k in app.api_keys().await? {
                let state = if k.revoked_at.is_some() { "revoked" } else { "active" };
                println!("{}\t{}\t{}\t{}\t{}", k.id, k.name, k.role, k.created_at, state);
            }
            Ok(())
        }
        Command::Apikey(ApikeyCommand::Revoke { id }) => {
            app.revoke_api_key(id).await?;
            println!("revoked API key {id}");
            Ok(())
        }
        Command::Form(FormCommand::Create { name, channel, offer, campaign, origins }) => {
            let form = app.create_form(FormInput { name, channel, offer, campaign, allowed_origins: origins }).await?;
            println!(
                "created form {:?} (id {}); post inquiries to /v1/inquiries with this form_key:",
                form.name, form.id
            );
            println!("{}", form.key);
            Ok(())
        }
        Command::Demo { contacts, seed, activity } => demo(&app, contacts, seed, activity).await,
        Command::Import { file, mapping, preset, dry_run, report } => {
            import(&app, &file, mapping.as_deref(), preset.as_deref(), dry_run, report.as_deref()).await
        }
        Command::Export { kind, format, out } => export(&app, &kind, &format, out.as_deref()).await,
        Command::Duplicates { reason, limit } => {
            let started = std::time::Instant::now();
            let found = app
                .duplicates(&leadgate_app::DuplicateQuery { reason, limit: Some(limit) })
                .await
                .map_err(|e| anyhow::anyhow!(e.message))?;
            for p in &found.pairs {
                let reasons: Vec<&str> = p.reasons.iter().map(|r| r.as_str()).collect();
                let who = |c: &leadgate_app::merges::ContactSummary| {
                    let name = [c.first_name.as_deref(), c.last_name.as_deref()]
                        .into_iter()
                        .flatten()
                        .collect::<Vec<_>>()
                        .join(" ");
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
        Command::Rescore => {
            let total = app.live_contacts().await?.max(0) as u64;
            let bar = progress_bar(total, "{spinner} rescoring [{bar:40}] {pos}/{len} contacts ({eta} left)");
            let report = app.rescore(&Counter(bar.clone())).await.map_err(|e| anyhow::anyhow!(e.message));
            bar.finish_and_clear();
            let report = report?;
            println!(
                "rescored {} contacts with {} in {:.1} s; {} moved by a lead definition",
                report.assessed.contacts, report.model, report.seconds, report.assessed.moved
            );
            for f in &report.assessed.failures {
                eprintln!("{}: could not be evaluated for {} contacts: {}", f.rule, f.contacts, f.first_message);
            }
            Ok(())
        }
        Command::Model(ModelCommand::Train { target, exclude, horizon_days, budget }) => {
            let input = leadgate_app::likelihood::TrainInput { target, horizon_days, exclude, budget };
            let total = app.live_contacts().await?.max(0) as u64;
            let bar = progress_bar(total, "{spinner} {msg} [{bar:40}] {pos}/{len} contacts ({eta} left)");
            bar.set_message("reading, then rescoring");
            let report = app
                .train_likelihood(input, &leadgate_core::Actor::Operator, &Counter(bar.clone()))
                .await
                .map_err(|e| anyhow::anyhow!(e.message));
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
            println!(
                "{} contacts scored; {:.1} s reading, {:.1} s learning, {:.1} s in all",
                r.rescored.assessed.contacts, r.seconds_reading, r.seconds_learning, r.seconds
            );
            Ok(())
        }
        Command::Backtest { name, as_of, version, expression, against, from, to } => {
            let input = leadgate_app::backtest::BacktestInput {
                version,
                expression,
                as_of,
                created_from: from,
                created_to: to,
                sample: Some(10),
                against,
            };
            let r = app.backtest(&name, input).await.map_err(|e| anyhow::anyhow!(e.to_string()))?;
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
        Command::Inbox(InboxCommand::List { status, limit }) => {
            let status = match status.as_deref() {
                Some(s) => Some(InboxStatus::parse(s).with_context(|| format!("unknown status {s:?}"))?),
                None => None,
            };
            let items = match status {
                Some(s) => app.inbox(Some(s), limit).await?,
                None => {
                    let mut items = app.inbox(Some(InboxStatus::Pending), limit).await?;
                    items.extend(app.inbox(Some(InboxStatus::Failed), limit).await?);
                    items.extend(app.inbox(Some(InboxStatus::Rejected), limit).await?);
                    items
                }
            };
            for i in &items {
                println!(
                    "{}\t{}\t{}\t{}\t{}",
                    i.id,
                    i.received_at,
                    i.status.as_str(),
                    i.form_key.as_deref().unwrap_or("-"),
                    i.error.as_deref().unwrap_or("")
                );
            }
            eprintln!("{} item(s)", items.len());
            Ok(())
        }
        Command::Inbox(InboxCommand::Replay { ids, all }) => {
            const ROUND: i64 = 10_000;
            let mut ids = ids;
            let mut more_left = false;
            if all {
                for status in [InboxStatus::Pending, InboxStatus::Failed] {
                    let items = app.inbox(Some(status), ROUND).await?;
                    more_left |= items.len() as i64 == ROUND;
                    ids.extend(items.into_iter().map(|i| i.id));
                }
            }
            if ids.is_empty() {
                bail!("nothing to replay: give inbox item ids, or --all");
            }
            let mut failed = 0;
            for id in ids {
                match app.replay_inbox(id).await {
                    Ok(r) => println!("{id}\tprocessed\tcontact {}\tstage {}", r.contact_id, r.stage),
                    Err(e) => {
                        failed += 1;
                        println!("{id}\terror\t{e}");
                    }
                }
            }
            if more_left {
                eprintln!(
                    "replayed the oldest {ROUND} items of a status; more may remain: run `inbox replay --all` again"
                );
            }
            if failed > 0 {
                bail!("{failed} item(s) could not be processed");
            }
            Ok(())
        }
    }
}

async fn serve(app: Arc<App>, config: &Config) -> Result<()> {
    let listener = tokio::net::TcpListener::bind(&config.listen)
        .await
        .with_context(|| format!("cannot listen on {}", config.listen))?;
    let addr = listener.local_addr()?;
    let opts = leadgate_http::HttpOptions {
        inquiries_per_minute: config.inquiries_per_minute,
        trust_forwarded_for: config.trust_forwarded_for,
    };
    let router = leadgate_http::router(app.clone(), opts);
    tracing::info!(%addr, database = app.store().backend(), "leadgate started");
    // Scripts and tests read the address from this line (useful with port 0). A closed
    // stdout must not stop the server, so write errors are ignored.
    let mut out = std::io::stdout();
    let _ = writeln!(out, "leadgate listening on http://{addr}").and_then(|_| out.flush());
    leadgate_http::serve(listener, router, shutdown_signal()).await?;
    tracing::info!("leadgate stopped");
    Ok(())
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        if let Ok(mut s) = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            s.recv().await;
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! { _ = ctrl_c => {}, _ = term => {} }
}

/// A progress bar of `len` steps drawn by `template` (indicatif's template syntax).
fn progress_bar(len: u64, template: &'static str) -> indicatif::ProgressBar {
    let bar = indicatif::ProgressBar::new(len);
    bar.set_style(indicatif::ProgressStyle::with_template(template).expect("valid template").progress_chars("=> "));
    bar
}

/// A progress bar counting items (the second figure of `Progress::advance`).
struct Counter(indicatif::ProgressBar);

impl leadgate_app::import::Progress for Counter {
    fn advance(&self, _: u64, done: u64) {
        self.0.set_position(done);
    }
}

struct Bar(indicatif::ProgressBar);

impl leadgate_app::import::Progress for Bar {
    fn advance(&self, bytes: u64, rows: u64) {
        self.0.set_position(bytes);
        self.0.set_message(format!("{rows} rows"));
    }
}

async fn import(
    app: &App,
    file: &std::path::Path,
    mapping: Option<&std::path::Path>,
    preset: Option<&str>,
    dry_run: bool,
    report_to: Option<&std::path::Path>,
) -> Result<()> {
    use leadgate_app::import::{ImportOptions, ImportSource, choose_mapping};
    let text = mapping
        .map(|path| {
            std::fs::read_to_string(path).with_context(|| format!("cannot read the mapping {}", path.display()))
        })
        .transpose()?;
    let (mapping, described) = choose_mapping(text.as_deref(), preset).map_err(|e| anyhow::anyhow!(e.message))?;
    let input = std::fs::File::open(file).with_context(|| format!("cannot open {}", file.display()))?;
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
    let report = result.map_err(|e| anyhow::anyhow!("{} was not imported: {}", file.display(), e.message))?;
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
        bail!("no row could be imported");
    }
    Ok(())
}

async fn export(app: &App, kind: &str, format: &str, out: Option<&std::path::Path>) -> Result<()> {
    use leadgate_app::export::{Export, ExportFormat, ExportKind};
    use std::io::Write;
    let kind = ExportKind::parse(kind).map_err(|e| anyhow::anyhow!(e.message))?;
    let format = ExportFormat::parse(format).map_err(|e| anyhow::anyhow!(e.message))?;
    let mut writer: Box<dyn Write> = match out {
        // Written beside the target and renamed at the end, so that a failed export
        // never leaves a file that looks whole.
        Some(path) => Box::new(std::io::BufWriter::new(
            std::fs::File::create(path.with_extension("partial"))
                .with_context(|| format!("cannot create {}", path.display()))?,
        )),
        None => Box::new(std::io::BufWriter::new(std::io::stdout().lock())),
    };
    let bar = if out.is_some() { indicatif::ProgressBar::new_spinner() } else { indicatif::ProgressBar::hidden() };
    let started = std::time::Instant::now();
    let mut export = Export::new(kind, format);
    while let Some(page) = app.export_page(&mut export).await.map_err(|e| anyhow::anyhow!(e.message))? {
        match writer.write_all(&page) {
            // The reader (`| head`) has seen enough.
            Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => return Ok(()),
            other => other?,
        }
        bar.set_message(format!("{} {} exported", export.rows(), kind.as_str()));
        bar.tick();
    }
    match writer.flush() {
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => return Ok(()),
        other => other?,
    }
    drop(writer);
    bar.finish_and_clear();
    if let Some(path) = out {
        std::fs::rename(path.with_extension("partial"), path)?;
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

async fn demo(app: &App, contacts: usize, seed: u64, activity: u32) -> Result<()> {
    let existing = app.store().totals().await?.contacts;
    if existing > 0 {
        bail!(
            "the database already holds {existing} contacts; load demo data into an empty one (e.g. --data-dir ./demo-data)"
        );
    }
    let bar =
        progress_bar(contacts as u64, "{spinner} demo data [{bar:40}] {pos}/{len} contacts ({per_sec}, {eta} left)");
    let started = std::time::Instant::now();
    let summary =
        leadgate_app::demo::load(app.store().clone(), contacts, seed, activity, app.now(), |n| bar.inc(n as u64))
            .await?;
    bar.finish_and_clear();
    println!(
        "loaded {} contacts, {} accounts, {} responses, {} stage changes and {} events in {:.1} s",
        summary.contacts,
        summary.accounts,
        summary.responses,
        summary.stage_changes,
        summary.events,
        started.elapsed().as_secs_f64()
    );
    Ok(())
}
