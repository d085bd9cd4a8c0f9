//! The leadgate binary: the server and the operator's commands.

mod cli;
mod config;
mod contact;
mod data;
mod exit;
mod inbox;
mod output;
mod progress;
mod qualify;
mod report;
mod serve;

// Request handling allocates many small short-lived values (JSON trees, strings);
// mimalloc serves those faster than the system allocator.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

use anyhow::{Context, Result};
use clap::Parser;
use cli::{
    ApikeyCommand, Cli, Command, ContactCommand, FormCommand, InboxCommand, ModelCommand, ReportCommand, SpendCommand,
};
use config::{Config, Overrides};
use leadgate_app::{App, AppOptions, FormInput};
use std::sync::Arc;

fn main() -> std::process::ExitCode {
    without_transparent_huge_pages();
    // A wrong flag is told by clap, with exit status 2.
    let cli = Cli::parse();
    match start(cli) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {}", exit::line(&e));
            std::process::ExitCode::from(exit::status(&e))
        }
    }
}

fn start(cli: Cli) -> Result<()> {
    if let Command::Openapi = cli.command {
        // Needs no configuration and no database.
        return print_openapi();
    }
    let listen = match &cli.command {
        Command::Serve { listen, .. } => listen.clone(),
        _ => None,
    };
    let overrides =
        Overrides { data_dir: cli.global.data_dir.clone(), listen, database_url: cli.global.database_url.clone() };
    let config = Config::load(cli.global.config.as_deref(), overrides).map_err(|e| exit::usage(exit::line(&e)))?;
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

fn print_openapi() -> Result<()> {
    println!("{}", leadgate_http::openapi_description().to_pretty_json()?);
    Ok(())
}

fn init_tracing(config: &Config) {
    use tracing_subscriber::EnvFilter;
    let filter = EnvFilter::try_from_env("LEADGATE_LOG").unwrap_or_else(|_| EnvFilter::new(config::DEFAULT_LOG_FILTER));
    let builder = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr);
    if config.log_format == "json" {
        builder.json().init();
    } else {
        builder.init();
    }
}

/// Opens the database the configuration names and the application on it.
async fn open_app(config: &Config) -> Result<Arc<App>> {
    let url = config.database();
    if config.external_database().is_none() {
        std::fs::create_dir_all(&config.data_dir)
            .with_context(|| format!("cannot create the data directory {}", config.data_dir.display()))?;
    }
    let options = |defaults| AppOptions {
        heavy_reads: config.concurrent_heavy_reads,
        imports: config.concurrent_imports,
        ..defaults
    };
    App::open(&url, config.sqlite_full_sync, options).await.with_context(|| match config.external_database() {
        Some(_) => "cannot open the database named by database_url".to_owned(),
        None => format!("cannot open {url}"),
    })
}

async fn run(command: Command, config: Config) -> Result<()> {
    let app = open_app(&config).await?;
    let done = run_command(command, &config, app.clone()).await;
    // Closing the database leaves it whole in its file (SQLite's last connection
    // to close copies the WAL into it and removes it) rather than leaving a WAL to the
    // next command: a rescore leaves tens to hundreds of megabytes of it, which a
    // backtest run next read page by page through the WAL's index, with a system call
    // for each page (docs/benchmarks.md).
    app.close().await;
    done
}

async fn run_command(command: Command, config: &Config, app: Arc<App>) -> Result<()> {
    match command {
        Command::Serve { demo: with_demo, .. } => {
            if with_demo {
                match app.stats().await?.contacts {
                    0 => data::demo(&app, 5_000, 42, 1).await?,
                    n => eprintln!("the database already holds {n} contacts: no demo data loaded"),
                }
            }
            serve::serve(app, config).await
        }
        Command::Openapi => print_openapi(),
        Command::Migrate => {
            println!("database is up to date ({})", app.backend());
            Ok(())
        }
        Command::Apikey(ApikeyCommand::Create { name, role, user }) => {
            let created = match (user, name, role) {
                (Some(user), _, _) => app.create_user_api_key(&user).await?,
                (None, Some(name), Some(role)) => app.create_api_key(&name, role).await?,
                _ => anyhow::bail!("give --name and --role, or --user"),
            };
            let key = &created.key;
            match &key.user {
                Some(user) => println!("created API key of {} with role {} (id {})", user.email, key.role, key.id),
                None => println!("created API key {:?} with role {} (id {})", key.name, key.role, key.id),
            }
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
        Command::Form(FormCommand::Create { name, channel, offer, campaign, origins, thank_you_url }) => {
            let input = FormInput { name, channel, offer, campaign, allowed_origins: origins, thank_you_url };
            let form = app.create_form(input).await?;
            println!(
                "created form {:?} (id {}); post inquiries to /v1/inquiries with this form_key:",
                form.name, form.id
            );
            println!("{}", form.key);
            Ok(())
        }
        Command::Demo { contacts, seed, activity } => data::demo(&app, contacts, seed, activity).await,
        Command::Import { file, mapping, preset, dry_run, report, raw } => {
            let (mapping, preset) = (mapping.as_deref(), preset.as_deref());
            data::import(&app, &file, mapping, preset, dry_run, raw, report.as_deref()).await
        }
        Command::Export { kind, format, out, raw } => data::export(&app, &kind, &format, raw, out.as_deref()).await,
        Command::Duplicates { reason, limit } => qualify::duplicates(&app, reason, limit).await,
        Command::Rescore => qualify::rescore(&app).await,
        Command::Model(ModelCommand::Train { learn_from, budget }) => qualify::train(&app, learn_from, budget).await,
        Command::Model(ModelCommand::Examples { learn_from, out, raw }) => {
            qualify::examples(&app, learn_from, out.as_deref(), raw).await
        }
        Command::Backtest { name, as_of, version, expression, against, from, to } => {
            let args = qualify::BacktestArgs { name, as_of, version, expression, against, from, to };
            qualify::backtest(&app, args).await
        }
        Command::Inbox(InboxCommand::List { status, limit }) => inbox::list(&app, status, limit).await,
        Command::Inbox(InboxCommand::Replay { ids, all }) => inbox::replay(&app, ids, all).await,
        Command::Inbox(InboxCommand::Sweep) => inbox::sweep(&app, &config.retention()).await,
        Command::Contact(ContactCommand::Erase { contact, reason }) => contact::erase(&app, &contact, &reason).await,
        Command::Contact(ContactCommand::PersonalData { contact }) => contact::personal_data(&app, &contact).await,
        Command::Report(ReportCommand::Waterfall { select }) => report::waterfall(&app, select).await,
        Command::Report(ReportCommand::Cohorts { select }) => report::cohorts(&app, select).await,
        Command::Report(ReportCommand::Inflow { select }) => report::inflow(&app, select).await,
        Command::Report(ReportCommand::Cost { select }) => report::cost(&app, select).await,
        Command::Report(ReportCommand::FunnelMix { select }) => report::funnel_mix(&app, select).await,
        Command::Report(ReportCommand::RejectedThenWon { select }) => report::rejected_then_won(&app, select).await,
        Command::Report(ReportCommand::Forecast { as_of, months, written }) => {
            report::forecast(&app, as_of, months, written).await
        }
        Command::Spend(SpendCommand::Import { file }) => report::spend_import(&app, &file).await,
        Command::Spend(SpendCommand::List) => report::spend_list(&app).await,
        Command::Spend(SpendCommand::Currency { code }) => report::currency(&app, code.as_deref()).await,
    }
}
