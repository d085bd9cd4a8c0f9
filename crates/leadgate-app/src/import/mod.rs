//! Importing a CSV file: streamed in chunks, one transaction per chunk.
//!
//! The file is read row by row and never held whole: memory stays the size of one
//! chunk however long the file. Each chunk's contacts are looked up by email and
//! external id in one query each, planned row by row (`leadgate_core::import::plan`),
//! and written together; several chunks share a transaction (see [`TRANSACTION_ROWS`]). A bad row is reported with its line, column and problem and
//! the rest go on; a file that is not CSV, or a mapping naming columns the file lacks,
//! is refused before anything is written. Re-importing a file writes nothing new, so an
//! import stopped half-way can simply be run again.

use crate::ErrorCode;
use crate::{App, AppError};
use csv_file::{CSV_BUFFER, ReadChunk, ReadRow, RowLimit, read_chunks, read_header};
use leadgate_core::ident::truncate;
use leadgate_core::import::plan::Stamp;
use leadgate_core::import::{Binding, ImportRow, Known, Mapping, RowError, plan_row, presets};
use leadgate_core::model::{Account, ContactChange, ExternalId, ImportCounts, ImportJob, ImportStatus};
use leadgate_core::time::MICROS_PER_SECOND;
use leadgate_core::{Actor, Domain, account::name_from_domain};
use leadgate_store::{Bulk, Tx};
use std::collections::{HashMap, HashSet};
use std::io::Read;
use std::sync::Arc;
use uuid::Uuid;

mod csv_file;
pub use csv_file::RECORD_BYTES_MAX;

/// Rows read, looked up and planned together: memory holds about two chunks.
pub const CHUNK_ROWS: usize = 5_000;
/// Rows written per transaction, in whole chunks. A commit rewrites every page the
/// transaction touched, and rows of a large file land on pages all over the email
/// index: committing 5,000 rows at a time wrote the same index pages again and again
/// (16 GB of writes for a 1,000,000-row file). Ten chunks per commit share those pages;
/// the writer is held for about two seconds at a time at a million contacts, which is
/// what live traffic waits at most while an import runs.
pub const TRANSACTION_ROWS: usize = 50_000;
/// Accounts an import remembers by domain before it starts over (about 100 bytes each).
const ACCOUNTS_KEPT: usize = 500_000;
/// Row errors kept in a report; the count goes on beyond them.
pub const ERRORS_KEPT: usize = 1_000;
#[derive(Debug, Clone, Copy, Default)]
pub struct ImportOptions {
    pub dry_run: bool,
}

/// What is being imported, as the job records it.
#[derive(Debug, Clone, Default)]
pub struct ImportSource {
    pub file_name: Option<String>,
    /// `preset NAME`, or the mapping's TOML text.
    pub mapping: String,
}

/// The mapping an import asks for: its own (TOML text), or a built-in preset by name;
/// with the description its job records.
pub fn choose_mapping(toml: Option<&str>, preset: Option<&str>) -> Result<(Mapping, String), AppError> {
    match (toml, preset) {
        (Some(_), Some(_)) => Err(AppError::new(ErrorCode::InvalidMapping, "give a mapping or a preset, not both")),
        (Some(text), None) => {
            let mapping = Mapping::from_toml(text)
                .map_err(|e| AppError::new(ErrorCode::InvalidMapping, format!("the mapping is not usable: {e}")))?;
            Ok((mapping, text.to_owned()))
        }
        (None, Some(name)) => {
            let mapping = presets::preset(name).ok_or_else(|| {
                AppError::new(
                    ErrorCode::UnknownPreset,
                    format!("there is no preset {:?}; presets are {}", truncate(name, 40), presets::names().join(", ")),
                )
            })?;
            Ok((mapping, format!("preset {}", name.trim().to_ascii_lowercase())))
        }
        (None, None) => Err(AppError::new(
            ErrorCode::MissingMapping,
            "an import needs a mapping (TOML) or a preset; see docs/import.md",
        )),
    }
}

/// Told how far the import is: bytes of the file read so far, and rows.
pub trait Progress: Send + Sync {
    fn advance(&self, bytes: u64, rows: u64);
}

impl Progress for () {
    fn advance(&self, _: u64, _: u64) {}
}

/// A running import that has not advanced for this long was interrupted (its server
/// stopped): a chunk takes seconds.
const STALE_MICROS: i64 = 5 * 60 * MICROS_PER_SECOND;

/// What every chunk of one import is read and recorded with.
#[derive(Clone, Copy)]
struct Run<'a> {
    binding: &'a Binding,
    /// Names the import in the history it writes (`import <id>`).
    label: &'a str,
    actor: &'a Actor,
}

/// A file whose header matched the mapping, and its job, recorded as running.
pub struct PreparedImport<R> {
    reader: csv::Reader<RowLimit<R>>,
    row_start: Arc<std::sync::atomic::AtomicU64>,
    binding: Arc<Binding>,
    job: ImportJob,
}

impl<R> PreparedImport<R> {
    pub fn job(&self) -> &ImportJob {
        &self.job
    }
}

impl App {
    /// Imports CSV `input` through `mapping`, start to end.
    pub async fn import_csv<R: Read + Send + 'static>(
        &self,
        input: R,
        mapping: &Mapping,
        opts: ImportOptions,
        actor: &Actor,
        progress: &dyn Progress,
    ) -> Result<ImportJob, AppError> {
        let source = ImportSource { file_name: None, mapping: String::new() };
        let prepared = self.prepare_import(input, mapping, source, opts, actor).await?;
        self.run_import(prepared, actor, progress).await
    }

    /// Reads the header and binds `mapping` to it, refusing a file that is not CSV or
    /// lacks a mapped column before anything is written; then records the job.
    pub async fn prepare_import<R: Read + Send + 'static>(
        &self,
        input: R,
        mapping: &Mapping,
        source: ImportSource,
        opts: ImportOptions,
        actor: &Actor,
    ) -> Result<PreparedImport<R>, AppError> {
        let delimiter = u8::try_from(mapping.delimiter.unwrap_or(','))
            .map_err(|_| AppError::new(ErrorCode::InvalidMapping, "the delimiter must be a single ASCII character"))?;
        let row_start = Arc::new(std::sync::atomic::AtomicU64::new(0));
        let input = RowLimit::new(input, row_start.clone());
        let mut reader = csv::ReaderBuilder::new()
            .has_headers(false)
            .flexible(true)
            .delimiter(delimiter)
            .buffer_capacity(CSV_BUFFER)
            .from_reader(input);
        let binding = Arc::new(read_header(&mut reader, mapping)?);
        let now = self.now();
        let job = ImportJob {
            id: Uuid::now_v7(),
            status: ImportStatus::Running,
            dry_run: opts.dry_run,
            file_name: source.file_name,
            mapping: source.mapping,
            actor: actor.label(),
            created_at: now,
            updated_at: now,
            finished_at: None,
            counts: ImportCounts::default(),
            errors: Vec::new(),
            error_count: 0,
            failure: None,
        };
        self.store.save_import(&job).await?;
        Ok(PreparedImport { reader, row_start, binding, job })
    }

    /// Imports the rows of a prepared file. A thread reads and checks the rows while
    /// the chunk before is written; the job records the counts after every chunk, and
    /// how it ended.
    pub async fn run_import<R: Read + Send + 'static>(
        &self,
        prepared: PreparedImport<R>,
        actor: &Actor,
        progress: &dyn Progress,
    ) -> Result<ImportJob, AppError> {
        let PreparedImport { reader, row_start, binding, mut job } = prepared;
        let (send, mut chunks) = tokio::sync::mpsc::channel::<ReadChunk>(2);
        let reading = tokio::task::spawn_blocking({
            let binding = binding.clone();
            move || read_chunks(reader, &row_start, &binding, &send)
        });
        let label = format!("import {}", job.id);
        let run = Run { binding: &binding, label: &label, actor };
        let mut outcome = Ok(());
        let mut open: Option<(Box<dyn Tx>, usize)> = None;
        // Accounts by domain, as far as this import has seen them: a company's people
        // are spread all over a file, and its account is looked up once.
        let mut accounts: HashMap<String, Uuid> = HashMap::new();
        // What the last commit made durable: a transaction that fails takes back the
        // counts and errors of its chunks with it.
        let mut committed = (job.counts.clone(), job.errors.len(), job.error_count);
        while let Some(chunk) = chunks.recv().await {
            let (mut tx, rows) = match open.take() {
                Some(open) => open,
                None => match self.store.begin().await {
                    Ok(tx) => (tx, 0),
                    Err(e) => {
                        outcome = Err(e.into());
                        break;
                    }
                },
            };
            let rows = rows + chunk.rows.len();
            if let Err(e) = self.import_chunk(tx.as_mut(), &run, &mut accounts, chunk.rows, &mut job).await {
                let _ = tx.rollback().await;
                outcome = Err(e);
                break;
            }
            progress.advance(chunk.bytes, job.counts.rows);
            if rows < TRANSACTION_ROWS {
                open = Some((tx, rows));
                continue;
            }
            if let Err(e) = end_transaction(tx, job.dry_run).await {
                outcome = Err(e);
                break;
            }
            if job.dry_run || accounts.len() > ACCOUNTS_KEPT {
                // A dry run's accounts were taken back with its transaction.
                accounts.clear();
            }
            committed = (job.counts.clone(), job.errors.len(), job.error_count);
            job.updated_at = self.now();
            self.store.save_import(&job).await?;
        }
        if let Some((tx, _)) = open.take() {
            match end_transaction(tx, job.dry_run).await {
                Ok(()) => committed = (job.counts.clone(), job.errors.len(), job.error_count),
                Err(e) => outcome = Err(e),
            }
        }
        if outcome.is_err() {
            let (counts, kept, error_count) = committed;
            job.counts = counts;
            job.errors.truncate(kept);
            job.error_count = error_count;
        }
        drop(chunks);
        // The reader stops at the end of the file, or when the chunks stop being taken.
        let _ = reading.await;
        if outcome.is_ok() && job.counts.rows == 0 {
            outcome = Err(AppError::new(ErrorCode::EmptyFile, "the file has a header but no rows"));
        }
        let now = self.now();
        job.updated_at = now;
        job.finished_at = Some(now);
        match outcome {
            Ok(()) => {
                job.status = ImportStatus::Finished;
                if !job.dry_run
                    && let Err(e) = self.store.refresh_statistics().await
                {
                    tracing::warn!(error = %e, "the database's statistics were not refreshed after the import");
                }
                self.store.save_import(&job).await?;
                Ok(job)
            }
            Err(e) => {
                job.status = ImportStatus::Failed;
                job.failure = Some(e.message.clone());
                self.store.save_import(&job).await?;
                Err(e)
            }
        }
    }

    /// Starts importing a file already on disk (spooled from an upload) in the
    /// background, once its header matched the mapping; the job tells how it goes.
    /// `ration` is the place among the server's imports it runs in, held until it ends.
    pub async fn start_import(
        self: &Arc<Self>,
        file: std::fs::File,
        mapping: &Mapping,
        source: ImportSource,
        opts: ImportOptions,
        actor: Actor,
        ration: crate::Ration,
    ) -> Result<ImportJob, AppError> {
        let input = std::io::BufReader::with_capacity(1 << 20, file);
        let prepared = self.prepare_import(input, mapping, source, opts, &actor).await?;
        let job = prepared.job().clone();
        let app = self.clone();
        tokio::spawn(async move {
            // The outcome, success or failure, is recorded on the job.
            if let Err(e) = app.run_import(prepared, &actor, &()).await {
                tracing::warn!(import = %e.code, "import failed");
            }
            drop(ration);
        });
        Ok(job)
    }

    /// An import job; one still marked running that stopped advancing long ago is
    /// shown as interrupted.
    pub async fn import_job(&self, id: Uuid) -> Result<ImportJob, AppError> {
        let job = self
            .store
            .import_job(id)
            .await?
            .ok_or_else(|| AppError::new(ErrorCode::UnknownImport, "no import has this id"))?;
        Ok(self.as_seen_now(job))
    }

    /// The latest import jobs, newest first.
    pub async fn imports(&self, limit: i64) -> Result<Vec<ImportJob>, AppError> {
        let jobs = self.store.imports(limit.clamp(1, 1_000)).await?;
        Ok(jobs.into_iter().map(|j| self.as_seen_now(j)).collect())
    }

    fn as_seen_now(&self, mut job: ImportJob) -> ImportJob {
        if job.status == ImportStatus::Running && self.now().0 - job.updated_at.0 > STALE_MICROS {
            job.status = ImportStatus::Interrupted;
            job.failure = Some(
                "the import stopped advancing (its server was stopped?); run it again: re-importing a file adds nothing twice"
                    .into(),
            );
        }
        job
    }

    /// Looks up, plans and writes one chunk in `tx`, counting what it does in `report`.
    async fn import_chunk(
        &self,
        tx: &mut dyn Tx,
        run: &Run<'_>,
        accounts: &mut HashMap<String, Uuid>,
        rows: Vec<ReadRow>,
        report: &mut ImportJob,
    ) -> Result<(), AppError> {
        let Run { binding, label, actor } = *run;
        let now = self.now();
        // A line naming several contacts is one row: it fails once, whichever of its
        // contacts fail (they come one after another).
        let last_failed = std::sync::atomic::AtomicU64::new(u64::MAX);
        let fail = |report: &mut ImportJob, errors: Vec<RowError>| {
            let line = errors.first().map_or(u64::MAX, |e| e.row);
            if line == u64::MAX || last_failed.swap(line, std::sync::atomic::Ordering::Relaxed) != line {
                report.counts.rows_failed += 1;
            }
            report.error_count += errors.len() as u64;
            let room = ERRORS_KEPT.saturating_sub(report.errors.len());
            report.errors.extend(errors.into_iter().take(room));
        };
        report.counts.rows += rows.iter().filter(|r| r.first).count() as u64;
        let mut good: Vec<(u64, ImportRow)> = Vec::with_capacity(rows.len());
        for r in rows {
            match r.row {
                Ok(row) => good.push((r.line, row)),
                Err(errors) => fail(report, errors),
            }
        }
        let system = binding.system.as_deref().unwrap_or("");
        let distinct = |mut v: Vec<String>| {
            v.sort_unstable();
            v.dedup();
            v
        };
        let emails = distinct(good.iter().filter_map(|(_, r)| r.email.as_ref().map(|e| e.to_string())).collect());
        let external = distinct(good.iter().filter_map(|(_, r)| r.external_id.clone()).collect());
        let emails: Vec<&str> = emails.iter().map(String::as_str).collect();
        let mut own_ids: Vec<Uuid> = good.iter().filter_map(|(_, r)| r.id).collect();
        own_ids.sort_unstable();
        own_ids.dedup();
        let external: Vec<&str> = external.iter().map(String::as_str).collect();

        let result = async {
            // Where each identity leads, with the fingerprint of the row last imported
            // into that contact.
            let mut by_own: HashMap<Uuid, Uuid> = HashMap::new();
            let mut by_email: HashMap<String, Uuid> = HashMap::new();
            let mut by_external: HashMap<String, Uuid> = HashMap::new();
            let mut fingerprints: HashMap<Uuid, Option<i64>> = HashMap::new();
            for (asked, found) in tx.find_by_ids(&own_ids).await? {
                by_own.insert(asked, found.contact_id);
                fingerprints.insert(found.contact_id, found.fingerprint);
            }
            for (email, found) in tx.find_by_emails(&emails).await? {
                by_email.insert(email, found.contact_id);
                fingerprints.insert(found.contact_id, found.fingerprint);
            }
            if !external.is_empty() {
                for (x, found) in tx.find_by_external_ids(system, &external).await? {
                    by_external.insert(x, found.contact_id);
                    fingerprints.insert(found.contact_id, found.fingerprint);
                }
            }
            let named_in_store = |row: &ImportRow| -> Vec<Uuid> {
                let own = row.id.and_then(|id| by_own.get(&id));
                let email = row.email.as_ref().and_then(|e| by_email.get(e.as_str()));
                let external = row.external_id.as_deref().and_then(|x| by_external.get(x));
                let mut named: Vec<Uuid> = [own, email, external].into_iter().flatten().copied().collect();
                named.sort_unstable();
                named.dedup();
                named
            };
            // A row whose contact holds the row's own fingerprint was imported exactly so
            // and is skipped without reading the contact; unless another row of this
            // chunk names the same contact: then each of them is applied in turn, as
            // when they were first imported.
            let mut rows_per_contact: HashMap<Uuid, usize> = HashMap::new();
            for (_, row) in &good {
                for id in named_in_store(row) {
                    *rows_per_contact.entry(id).or_default() += 1;
                }
            }
            good.retain(|(_, row)| {
                let named = named_in_store(row);
                let seen = matches!(named.as_slice(), [only]
                    if rows_per_contact[only] == 1 && fingerprints[only] == Some(row.fingerprint));
                if seen {
                    report.counts.contacts_unchanged += 1;
                }
                !seen
            });
            let mut ids: Vec<Uuid> = good.iter().flat_map(|(_, row)| named_in_store(row)).collect();
            ids.sort_unstable();
            ids.dedup();
            let mut known: HashMap<Uuid, Known> =
                tx.contacts_by_ids(&ids).await?.into_iter().map(|c| (c.id, Known::new(c))).collect();
            let existed: HashSet<Uuid> = known.keys().copied().collect();
            let history = tx.history_keys(&ids, binding.has_events()).await?;
            for (c, at, action, channel) in history.responses {
                if let Some(k) = known.get_mut(&c) {
                    k.responses.push((at, action, channel));
                }
            }
            for (c, to, at) in history.stages {
                if let Some(k) = known.get_mut(&c) {
                    k.stages.push((to, at));
                }
            }
            for (c, kind, at, url) in history.events {
                if let Some(k) = known.get_mut(&c) {
                    k.events.push((kind, at, url));
                }
            }
            // Accounts for the rows' company domains (the web site, else a work email's).
            let domain_of = |r: &ImportRow| -> Option<Domain> {
                r.website.clone().or_else(|| r.email.as_ref().map(|e| e.domain())).filter(|d| !d.is_free_mail())
            };
            let mut domains: Vec<String> = good
                .iter()
                .filter_map(|(_, r)| domain_of(r))
                .map(|d| d.to_string())
                .filter(|d| !accounts.contains_key(d))
                .collect();
            domains.sort_unstable();
            domains.dedup();
            let domain_refs: Vec<&str> = domains.iter().map(String::as_str).collect();
            accounts.extend(tx.accounts_by_domains(&domain_refs).await?.into_iter().map(|a| (a.domain, a.id)));

            let mut bulk = Bulk::default();
            // Contacts created by earlier rows of this chunk, by identity.
            let mut email_new: HashMap<String, Uuid> = HashMap::new();
            let mut external_new: HashMap<String, Uuid> = HashMap::new();
            let mut touched: Vec<Uuid> = Vec::new();
            let mut updated: HashSet<Uuid> = HashSet::new();
            for (line, row) in good {
                let email = row.email.as_ref().map(|e| e.as_str());
                let by_mail = email.and_then(|e| by_email.get(e).or_else(|| email_new.get(e))).copied();
                let by_id = row
                    .external_id
                    .as_deref()
                    .and_then(|x| by_external.get(x).or_else(|| external_new.get(x)))
                    .copied();
                // A contact created by an earlier row of this chunk is known by its id.
                let by_own_id =
                    row.id.map(|id| by_own.get(&id).copied().unwrap_or(id)).filter(|id| known.contains_key(id));
                let named: Vec<Uuid> = [by_own_id, by_mail, by_id].into_iter().flatten().collect();
                if let Some(other) = named.iter().find(|id| **id != named[0]) {
                    fail(
                        report,
                        vec![RowError {
                            row: line,
                            column: None,
                            code: "identity_conflict".into(),
                            message: format!(
                                "the row names contact {} and contact {other} (by its id, email or external id); \
                                 merge them first, or correct the file",
                                named[0]
                            ),
                        }],
                    );
                    continue;
                }
                let target = named.first().copied();
                if target.is_none() && binding.existing_only {
                    let what = match (&row.external_id, email, row.id) {
                        (Some(x), _, _) => format!("no contact has external id {x:?} in {system:?}"),
                        (None, Some(e), _) => format!("no contact has the email {e}"),
                        (None, None, Some(id)) => format!("no contact {id}"),
                        (None, None, None) => "the row names no contact".into(),
                    };
                    fail(
                        report,
                        vec![RowError { row: line, column: None, code: "unknown_contact".into(), message: what }],
                    );
                    continue;
                }
                let account_id = match domain_of(&row) {
                    None => None,
                    Some(domain) => Some(match accounts.get(domain.as_str()) {
                        Some(id) => *id,
                        None => {
                            let account = Account {
                                id: Uuid::now_v7(),
                                name: row.company.clone().or_else(|| Some(name_from_domain(&domain))),
                                domain: domain.to_string(),
                                created_at: now,
                            };
                            accounts.insert(account.domain.clone(), account.id);
                            report.counts.accounts_created += 1;
                            let id = account.id;
                            bulk.accounts.push(account);
                            id
                        }
                    }),
                };
                // An email that found its contact is that contact's (or, once merged,
                // an alias of it): it does not replace the contact's email.
                let fingerprint = row.fingerprint;
                let row = if by_mail.is_some() && row.email.is_some() { ImportRow { email: None, ..row } } else { row };
                let before = target.and_then(|id| known.remove(&id));
                let mut new_id = || Uuid::now_v7();
                let stamp = Stamp { now, account_id, import_label: label, actor, new_id: &mut new_id };
                let plan = plan_row(before.as_ref(), &row, stamp);
                let contact_id = plan.contact.id;
                if let (Some(x), true) = (&row.external_id, by_id.is_none()) {
                    bulk.external_ids.push(ExternalId {
                        system: system.to_owned(),
                        external_id: x.clone(),
                        contact_id,
                    });
                    external_new.insert(x.clone(), contact_id);
                }
                if let Some(e) = &plan.contact.email {
                    email_new.insert(e.clone(), contact_id);
                }
                if plan.is_new {
                    report.counts.contacts_created += 1;
                    touched.push(contact_id);
                } else if plan.is_noop() {
                    report.counts.contacts_unchanged += 1;
                } else {
                    report.counts.contacts_updated += 1;
                    // A contact created earlier in this chunk is listed already.
                    if existed.contains(&contact_id) && updated.insert(contact_id) {
                        touched.push(contact_id);
                    }
                }
                bulk.fingerprints.insert(contact_id, fingerprint);
                let (now_known, new) = plan.settle(before);
                if !new.changes.is_empty() {
                    bulk.contact_changes.push(ContactChange {
                        contact_id,
                        at: now,
                        cause: label.to_owned(),
                        actor: actor.label(),
                        changes: new.changes,
                    });
                }
                report.counts.responses_created += new.responses.len() as u64;
                report.counts.stage_changes_created += new.stage_changes.len() as u64;
                report.counts.events_created += new.events.len() as u64;
                bulk.responses.extend(new.responses);
                bulk.stage_changes.extend(new.stage_changes);
                bulk.events.extend(new.events);
                known.insert(contact_id, now_known);
            }
            // Each touched contact is written once, as it stands after its last row.
            for id in touched {
                if let Some(k) = known.remove(&id) {
                    if existed.contains(&id) {
                        bulk.updated_contacts.push(k.contact);
                    } else {
                        bulk.contacts.push(k.contact);
                    }
                }
            }
            if !bulk.is_empty() {
                tx.insert_bulk(&bulk).await?;
            }
            Ok::<(), leadgate_store::StoreError>(())
        }
        .await;
        result.map_err(AppError::from)
    }
}

/// Commits the rows of an import's transaction, or, for a dry run, takes them back.
async fn end_transaction(tx: Box<dyn Tx>, dry_run: bool) -> Result<(), AppError> {
    if dry_run {
        tx.rollback().await?
    } else {
        tx.commit().await.map(drop)?
    }
    Ok(())
}
