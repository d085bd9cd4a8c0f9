//! The command line: every subcommand and its flags.

use clap::{Args, Parser, Subcommand};
use leadgate_core::Role;
use std::path::PathBuf;
use uuid::Uuid;

/// leadgate: B2B lead management. Captures every inquiry and list entry, decides which
/// are leads, and keeps everything so the numbers can be trusted.
#[derive(Parser)]
#[command(version, about)]
pub(crate) struct Cli {
    #[command(flatten)]
    pub(crate) global: Global,
    #[command(subcommand)]
    pub(crate) command: Command,
}

#[derive(Args)]
pub(crate) struct Global {
    /// Configuration file (default: ./leadgate.toml if it exists).
    #[arg(long, global = true)]
    pub(crate) config: Option<PathBuf>,
    /// Directory of the embedded database [default: ./leadgate-data].
    #[arg(long, global = true)]
    pub(crate) data_dir: Option<PathBuf>,
    /// PostgreSQL URL (postgres://…); without it the embedded SQLite is used.
    #[arg(long, global = true, hide_env_values = true)]
    pub(crate) database_url: Option<String>,
}

#[derive(Subcommand)]
pub(crate) enum Command {
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
    /// Print the OpenAPI description of the HTTP API, as `GET /v1/openapi.json` serves
    /// it (no database needed).
    Openapi,
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
    /// Inspect and replay stored inquiries, and remove what retention no longer keeps.
    #[command(subcommand)]
    Inbox(InboxCommand),
    /// A person's data: erase it, or show all of it.
    #[command(subcommand)]
    Contact(ContactCommand),
    /// The funnel's numbers, computed from every contact's history (docs/reports.md).
    #[command(subcommand)]
    Report(ReportCommand),
    /// What was paid to bring contacts in: record it from a CSV file, list it, and set
    /// the currency it is counted in.
    #[command(subcommand)]
    Spend(SpendCommand),
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
        /// The cells are as stored (a `leadgate export --raw` file): a leading ' is kept,
        /// which the leadgate-* presets otherwise take off before =, +, -, @ and '.
        #[arg(long)]
        raw: bool,
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
        /// CSV cells exactly as stored, for programs. Without it, a cell a spreadsheet
        /// would run as a formula (=, +, -, @ first) is written with a ' before it,
        /// which the leadgate-* import presets take off again.
        #[arg(long)]
        raw: bool,
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
pub(crate) enum ApikeyCommand {
    /// Create a key; the key itself is printed once, as the last line. A key of a user
    /// (`--user EMAIL`) acts as that person, with their role's access.
    Create {
        /// The key's name (not with --user: the user's email names it).
        #[arg(long, required_unless_present = "user", conflicts_with = "user")]
        name: Option<String>,
        /// admin, marketing, sales, manager or readonly (not with --user: the user's role
        /// gives it).
        #[arg(long, value_parser = parse_role, required_unless_present = "user", conflicts_with = "user")]
        role: Option<Role>,
        /// The email of the user whose key it is.
        #[arg(long)]
        user: Option<String>,
    },
    /// List keys (names and roles; keys are stored hashed and cannot be shown).
    List,
    /// Revoke a key by its id (see `apikey list`); running servers stop accepting it
    /// within 30 seconds.
    Revoke { id: Uuid },
}

#[derive(Subcommand)]
pub(crate) enum FormCommand {
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
        /// Where a browser that posted the form is sent afterwards (https://…).
        #[arg(long)]
        thank_you_url: Option<String>,
    },
}

#[derive(Subcommand)]
pub(crate) enum ModelCommand {
    /// Learn the likelihood model again from the contacts whose outcome is known, report
    /// its cross-validated ROC AUC, Brier score and reliability, and score every contact
    /// with it.
    Train {
        #[command(flatten)]
        learn_from: LearnFrom,
        /// The learner's budget (default 1.0; 0.1 to 3): more fits longer, may fit better.
        #[arg(long)]
        budget: Option<f32>,
    },
    /// Write the rows a training would learn from as CSV: a column per feature, then
    /// `outcome` and the cross-validation `fold`, to check the model's figures with
    /// another tool on the same rows and folds. Nothing is trained.
    Examples {
        #[command(flatten)]
        learn_from: LearnFrom,
        /// The file to write (default: standard output).
        #[arg(long)]
        out: Option<std::path::PathBuf>,
        /// Write texts exactly as stored, even those a spreadsheet would run as a
        /// formula (by default they are prefixed with `'`, as exports do).
        #[arg(long)]
        raw: bool,
    },
}

/// What a likelihood model learns from.
#[derive(clap::Args)]
pub(crate) struct LearnFrom {
    /// The stage to predict reaching (default customer).
    #[arg(long)]
    pub(crate) target: Option<String>,
    /// Features to leave out, against leakage: names, or prefixes ending in `*`
    /// (`--exclude 'custom.sales_*,custom.tags'`).
    #[arg(long, value_delimiter = ',')]
    pub(crate) exclude: Option<Vec<String>>,
    /// Reaching the target later than this many days after creation counts as not
    /// (default 365).
    #[arg(long)]
    pub(crate) horizon_days: Option<i64>,
}

#[derive(Subcommand)]
pub(crate) enum InboxCommand {
    /// List stored inquiries (default: those not processed).
    List {
        /// pending, processed, rejected or failed.
        #[arg(long)]
        status: Option<String>,
        #[arg(long, default_value_t = 100)]
        limit: usize,
    },
    /// Process stored inquiries again.
    Replay {
        /// Inbox item ids; with --all, every pending and failed item.
        ids: Vec<Uuid>,
        #[arg(long)]
        all: bool,
    },
    /// Remove the raw bodies, IP addresses and user agents of inquiries processed longer
    /// ago than the retention settings keep them (the server does this every hour).
    Sweep,
}

#[derive(Subcommand)]
pub(crate) enum ContactCommand {
    /// Erase a person: their contact (and those merged into it) lose everything that
    /// says who they are; the anonymous facts stay, so that reports still add up.
    Erase {
        /// The contact's id or email.
        contact: String,
        /// Why, for the audit log (a request of the person, say).
        #[arg(long)]
        reason: String,
    },
    /// Print everything held about a person, as JSON (a subject access request).
    PersonalData {
        /// The contact's id or email.
        contact: String,
    },
}

#[derive(Subcommand)]
pub(crate) enum ReportCommand {
    /// How many contacts reached each stage, the conversion between stages and the
    /// days they took, by group.
    Waterfall {
        #[command(flatten)]
        select: ReportSelection,
    },
    /// Contacts by month of entry, and the share that had reached each stage by each
    /// month after (group_by does not apply).
    Cohorts {
        #[command(flatten)]
        select: ReportSelection,
    },
    /// Responses that came in each week (by default the last 26), by group, with each
    /// group's pace: steady or in spikes, rising or falling.
    Inflow {
        #[command(flatten)]
        select: ReportSelection,
    },
    /// How many contacts stood at the top, middle and bottom of the funnel at the end
    /// of each month (by default the last twelve).
    FunnelMix {
        #[command(flatten)]
        select: ReportSelection,
    },
    /// Contacts sent to nurture, lost or disqualified that were later won back, and
    /// what each month's rejected contacts became (by date of rejection).
    RejectedThenWon {
        #[command(flatten)]
        select: ReportSelection,
    },
    /// Cost per stage and return on spend, by what the money was spent on (group by
    /// direction, channel, vendor, campaign or offer).
    Cost {
        #[command(flatten)]
        select: ReportSelection,
    },
    /// The contacts expected to reach mql, sql, opportunity and customer, and the value
    /// won, in each of the next months, inbound and outbound apart, with a 90 % interval.
    Forecast {
        /// Make it as it would have been made then, beside what happened (a backtest):
        /// a date (2018-02-28, the whole day) or an RFC 3339 instant.
        #[arg(long)]
        as_of: Option<String>,
        /// Months ahead: 1 to 3.
        #[arg(long, default_value_t = 3)]
        months: u32,
        #[command(flatten)]
        written: ReportOutput,
    },
}

#[derive(Subcommand)]
pub(crate) enum SpendCommand {
    /// Record the entries of a CSV file, all or none: a header naming amount (minor
    /// units), month or from and to, and any of currency, rate, direction, channel,
    /// vendor, campaign, offer, note.
    Import { file: PathBuf },
    /// Every entry, as CSV.
    List,
    /// Show the workspace's currency, or set it (three letters) while no spend is
    /// recorded in another.
    Currency { code: Option<String> },
}

/// Which contacts a report counts, how it groups them, and how it is written.
#[derive(clap::Args)]
pub(crate) struct ReportSelection {
    /// One or two of: direction, channel, vendor, campaign, placement, action,
    /// obtained_via, offer, form, owner (e.g. channel,direction).
    #[arg(long)]
    pub(crate) group_by: Option<String>,
    /// Contacts that entered the funnel on or after this date (2026-01-01 or RFC 3339).
    #[arg(long)]
    pub(crate) from: Option<String>,
    /// …and before this date.
    #[arg(long)]
    pub(crate) to: Option<String>,
    /// Only inbound or only outbound contacts.
    #[arg(long)]
    pub(crate) direction: Option<String>,
    #[command(flatten)]
    pub(crate) written: ReportOutput,
}

/// How and where a report is written.
#[derive(clap::Args)]
pub(crate) struct ReportOutput {
    /// table (for reading), json or csv.
    #[arg(long, default_value = "table")]
    pub(crate) format: String,
    /// Write to this file (whole, or not at all) instead of standard output.
    #[arg(long)]
    pub(crate) output: Option<std::path::PathBuf>,
    /// Also draw the report's chart, as SVG, into this file.
    #[arg(long)]
    pub(crate) svg: Option<std::path::PathBuf>,
}

pub(crate) fn parse_role(s: &str) -> Result<Role, String> {
    Role::parse(s).ok_or_else(|| format!("unknown role {s:?}; roles are admin, marketing, sales, manager, readonly"))
}
