//! Capturing inquiries. The raw body is committed to the inbox before anything else
//! happens, then processed in one transaction that also settles the inbox item; a
//! failure leaves the item `failed` (or `rejected` for bad input) to be replayed.

use crate::ErrorCode;
use crate::{App, AppError, ErrorKind};
use leadgate_core::account::name_from_domain;
use leadgate_core::capture::{self, CapturePlan, Sender, Stamp};
use leadgate_core::model::{Account, Form, InboxItem, InboxStatus};
use leadgate_core::{Stage, Timestamp, inquiry, junk};
use leadgate_store::{StoreError, Tx};
use serde::Serialize;
use uuid::Uuid;

pub mod body;
pub mod forms;

/// An inquiry exactly as it arrived.
#[derive(Debug, Clone, Default)]
pub struct RawInquiry {
    pub body: Vec<u8>,
    pub content_type: Option<String>,
    pub query: Option<String>,
    pub remote_ip: Option<String>,
    pub user_agent: Option<String>,
    /// The browser's `Origin` header, checked against the form's allowed origins.
    pub origin: Option<String>,
}

/// What capturing an inquiry did. Only its `receipt` is for the public: the rest says
/// whether the email was known and what it is, which only a caller with a key may learn.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct InquiryReceipt {
    /// The inbox item the inquiry was kept as.
    pub receipt: Uuid,
    pub contact_id: Uuid,
    pub response_id: Uuid,
    pub stage: Stage,
    /// The email was already a contact.
    pub duplicate: bool,
    /// The inquiry was recognised as junk.
    #[serde(skip)]
    pub junk: bool,
    /// Where the form sends a browser afterwards.
    #[serde(skip)]
    pub thank_you_url: Option<String>,
}

const MAX_CONFLICT_RETRIES: u32 = 3;

/// The most inbox items a page holds: their bodies may be up to 64 KiB each.
pub const INBOX_PAGE_MAX: i64 = 200;
/// How much of each body a page of inbox items shows; one item shows it whole.
pub const INBOX_PREVIEW_BYTES: i64 = 512;

impl App {
    /// Takes one inquiry from a form: posted by anyone (`Sender::Public`), or by a
    /// caller with an API key, trusted to speak for the person.
    pub async fn capture_inquiry(&self, raw: RawInquiry, sender: Sender) -> Result<InquiryReceipt, AppError> {
        let parsed = body::fields(raw.content_type.as_deref(), &raw.body);
        let form_key = body::query_param(raw.query.as_deref(), "form_key").or_else(|| {
            parsed.as_ref().ok().and_then(|f| f.get("form_key")).and_then(|v| v.as_str()).map(str::to_owned)
        });
        let Some(form_key) = form_key.filter(|k| !k.trim().is_empty()) else {
            return Err(parsed.err().unwrap_or_else(|| {
                AppError::new(ErrorCode::MissingField, "form_key is required (in the body or the query)")
                    .field("form_key")
            }));
        };
        let form = self.form(&form_key).await?;
        if let Some(origin) = &raw.origin
            && !form.allows_origin(origin)
        {
            return Err(AppError::new(
                ErrorCode::OriginNotAllowed,
                format!("this form does not accept posts from {origin}"),
            )
            .field("Origin"));
        }

        // Nothing is lost: the raw body is durable before we look inside it.
        let item = InboxItem {
            form_key: Some(form.key.clone()),
            content_type: raw.content_type,
            query: raw.query,
            remote_ip: raw.remote_ip,
            user_agent: raw.user_agent,
            ..InboxItem::received(Uuid::now_v7(), self.now(), raw.body)
        };
        let mut tx = self.store.begin().await?;
        tx.insert_inbox(&item).await?;
        tx.commit().await?;
        self.process(&item, Some(form), &sender).await
    }

    /// Processes a stored inbox item again (after a failure, or after the rules that
    /// refused it were changed), as an inquiry of the public: the inbox does not keep
    /// who sent it.
    pub async fn replay_inbox(&self, id: Uuid) -> Result<InquiryReceipt, AppError> {
        let item = self
            .store
            .inbox_item(id)
            .await?
            .ok_or_else(|| AppError::new(ErrorCode::UnknownInboxItem, format!("no inbox item {id}")))?;
        if item.status == InboxStatus::Processed {
            return Err(AppError::new(ErrorCode::AlreadyProcessed, format!("inbox item {id} was already processed")));
        }
        if item.body_removed_at.is_some() {
            return Err(AppError::new(
                ErrorCode::BodyRemoved,
                format!("inbox item {id} has no body left to process (removed by retention or erasure)"),
            ));
        }
        self.process(&item, None, &Sender::Public).await
    }

    /// A page of inbox items, oldest first, after the item `after`: at most
    /// [`INBOX_PAGE_MAX`], each with the first [`INBOX_PREVIEW_BYTES`] of its body.
    pub async fn inbox(
        &self,
        status: Option<InboxStatus>,
        after: Option<Uuid>,
        limit: i64,
    ) -> Result<Vec<InboxItem>, AppError> {
        Ok(self.store.inbox(status, after, limit.clamp(1, INBOX_PAGE_MAX), INBOX_PREVIEW_BYTES).await?)
    }

    /// One inbox item, whole body included.
    pub async fn inbox_item(&self, id: Uuid) -> Result<InboxItem, AppError> {
        self.store
            .inbox_item(id)
            .await?
            .ok_or_else(|| AppError::new(ErrorCode::UnknownInboxItem, format!("no inbox item {id}")))
    }

    async fn form(&self, key: &str) -> Result<Form, AppError> {
        self.store
            .form_by_key(key.trim())
            .await?
            .ok_or_else(|| AppError::new(ErrorCode::UnknownForm, "no form has this form_key").field("form_key"))
    }

    async fn process(&self, item: &InboxItem, form: Option<Form>, sender: &Sender) -> Result<InquiryReceipt, AppError> {
        let prepared = async {
            let fields = body::fields(item.content_type.as_deref(), &item.body)?;
            let form = match form {
                Some(f) => f,
                None => self.form(item.form_key.as_deref().unwrap_or_default()).await?,
            };
            let inquiry = inquiry::parse(&fields).map_err(AppError::from)?;
            Ok::<_, AppError>((form, inquiry))
        }
        .await;
        let (form, inquiry) = match prepared {
            Ok(p) => p,
            Err(e) if matches!(e.kind(), ErrorKind::Unavailable | ErrorKind::Internal) => {
                return Err(self.fail(item, e).await);
            }
            Err(e) => {
                self.settle(item, InboxStatus::Rejected, &e.to_string()).await?;
                return Err(e);
            }
        };
        let junk = junk::classify(&inquiry, item.user_agent.as_deref());
        let mut attempt = 0;
        loop {
            attempt += 1;
            match self.record(item, &form, &inquiry, junk.as_ref(), sender).await {
                Ok((mut receipt, last_change)) => {
                    // A definition may qualify the contact at once: the answer names
                    // the stage it is at once scored.
                    self.wait_until_scored(last_change).await;
                    if let Ok(Some(c)) = self.store.contact(receipt.contact_id).await {
                        receipt.stage = c.stage;
                    }
                    return Ok(receipt);
                }
                // Two first inquiries from one email (or one new domain) raced; the
                // retry finds the other's contact.
                Err(StoreError::Conflict(_)) if attempt < MAX_CONFLICT_RETRIES => continue,
                // The database broke a deadlock with another writer of the same
                // contact: nothing was kept, so the inquiry is recorded again.
                Err(StoreError::Contention(e)) if attempt < crate::retry::ATTEMPTS => {
                    tracing::info!(error = %e, attempt, "recording an inquiry aborted by the database; trying again");
                    tokio::time::sleep(crate::retry::pause(attempt)).await;
                    continue;
                }
                Err(e) => return Err(self.fail(item, e.into()).await),
            }
        }
    }

    /// One attempt at recording an inquiry, in one transaction.
    async fn record(
        &self,
        item: &InboxItem,
        form: &Form,
        inquiry: &leadgate_core::Inquiry,
        junk: Option<&junk::JunkReason>,
        sender: &Sender,
    ) -> Result<(InquiryReceipt, Option<leadgate_core::changes::Position>), StoreError> {
        let mut tx = self.store.begin().await?;
        let result = self.record_in(&mut *tx, item, form, inquiry, junk, sender).await;
        crate::finish_in_feed(tx, result).await
    }

    async fn record_in(
        &self,
        tx: &mut dyn Tx,
        item: &InboxItem,
        form: &Form,
        inquiry: &leadgate_core::Inquiry,
        junk: Option<&junk::JunkReason>,
        sender: &Sender,
    ) -> Result<InquiryReceipt, StoreError> {
        let email = inquiry.email();
        let existing = tx.contact_by_email(email.as_str()).await?;
        let account_id = match existing.as_ref().and_then(|c| c.account_id) {
            Some(id) => Some(id),
            // Junk from a stranger says nothing about a company: no account for it.
            None if junk.is_some() => None,
            None => self.account_for(tx, inquiry, item.received_at).await?,
        };
        let stamp =
            Stamp { contact: Uuid::now_v7(), response: Uuid::now_v7(), inbox_id: Some(item.id), at: item.received_at };
        let CapturePlan { contact, is_new, response, stage_change, change, consent } =
            capture::plan(existing.as_ref(), inquiry, Some(form), junk, account_id, stamp, sender);
        if is_new {
            tx.insert_contact(&contact).await?;
            tx.attach_events_by_email(email.as_str(), contact.id).await?;
        } else if existing.as_ref() != Some(&contact) {
            tx.update_contact(&contact).await?;
        }
        tx.insert_response(&response).await?;
        if let Some(change) = &stage_change {
            tx.insert_stage_change(change).await?;
        }
        if let Some(change) = &change {
            tx.insert_contact_change(change).await?;
        }
        if !consent.is_empty() {
            tx.insert_consents(&consent).await?;
        }
        // Which browser is a known person's is said by a trusted sender only: anyone
        // could otherwise tie their own browsing to someone else's timeline and score.
        let trusted = matches!(sender, Sender::Trusted(_));
        if let Some(visitor) = inquiry.visitor_id.as_ref().filter(|_| is_new || (trusted && junk.is_none())) {
            tx.identify_visitor(visitor, contact.id, item.received_at).await?;
        }
        tx.settle_inbox(item.id, InboxStatus::Processed, None, Some((contact.id, response.id)), self.now()).await?;
        Ok(InquiryReceipt {
            receipt: item.id,
            contact_id: contact.id,
            response_id: response.id,
            stage: contact.stage,
            duplicate: !is_new,
            junk: junk.is_some(),
            thank_you_url: form.thank_you_url.clone(),
        })
    }

    /// The account of the inquiry's email domain, created if new; none for free mail.
    async fn account_for(
        &self,
        tx: &mut dyn Tx,
        inquiry: &leadgate_core::Inquiry,
        at: Timestamp,
    ) -> Result<Option<Uuid>, StoreError> {
        let domain = inquiry.email().domain();
        if domain.is_free_mail() {
            return Ok(None);
        }
        if let Some(a) = tx.account_by_domain(domain.as_str()).await? {
            return Ok(Some(a.id));
        }
        let account = Account {
            id: Uuid::now_v7(),
            name: inquiry.company.clone().or_else(|| Some(name_from_domain(&domain))),
            domain: domain.to_string(),
            created_at: at,
        };
        tx.insert_account(&account).await?;
        Ok(Some(account.id))
    }

    /// Records that an item was refused or failed, with the error.
    async fn settle(&self, item: &InboxItem, status: InboxStatus, error: &str) -> Result<(), StoreError> {
        let mut tx = self.store.begin().await?;
        let result = tx.settle_inbox(item.id, status, Some(error), None, self.now()).await;
        crate::finish(tx, result).await
    }

    /// Marks an item failed (best effort: the database may be what failed).
    async fn fail(&self, item: &InboxItem, e: AppError) -> AppError {
        match self.settle(item, InboxStatus::Failed, &e.to_string()).await {
            Ok(()) => {}
            // Another worker processed it meanwhile: nothing is lost and nothing to mark.
            Err(StoreError::Conflict(_)) => {
                tracing::info!(inbox_id = %item.id, "inbox item was processed by another worker")
            }
            Err(se) => {
                tracing::error!(inbox_id = %item.id, error = %se, "could not mark inbox item failed; it stays pending")
            }
        }
        e
    }
}
