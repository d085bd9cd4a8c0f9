//! The inquiry inbox at the command line: listing, replaying, and the retention sweep.

use anyhow::{Context, Result, bail};
use leadgate_app::App;
use leadgate_app::privacy::Retention;
use leadgate_core::model::{InboxItem, InboxStatus};
use uuid::Uuid;

/// Up to `limit` items of `status`, oldest first, read a page at a time.
async fn items(app: &App, status: InboxStatus, limit: usize) -> Result<Vec<InboxItem>> {
    let mut items: Vec<InboxItem> = Vec::new();
    while items.len() < limit {
        let after = items.last().map(|i| i.id);
        let page = app.inbox(Some(status), after, leadgate_app::INBOX_PAGE_MAX).await?;
        let last = (page.len() as i64) < leadgate_app::INBOX_PAGE_MAX;
        items.extend(page);
        if last {
            break;
        }
    }
    items.truncate(limit);
    Ok(items)
}

pub(crate) async fn list(app: &App, status: Option<String>, limit: usize) -> Result<()> {
    let status = match status.as_deref() {
        Some(s) => Some(InboxStatus::parse(s).with_context(|| format!("unknown status {s:?}"))?),
        None => None,
    };
    let items = match status {
        Some(s) => items(app, s, limit).await?,
        None => {
            let mut all = items(app, InboxStatus::Pending, limit).await?;
            all.extend(items(app, InboxStatus::Failed, limit).await?);
            all.extend(items(app, InboxStatus::Rejected, limit).await?);
            all
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

pub(crate) async fn replay(app: &App, ids: Vec<Uuid>, all: bool) -> Result<()> {
    const ROUND: usize = 10_000;
    let mut ids = ids;
    let mut more_left = false;
    if all {
        for status in [InboxStatus::Pending, InboxStatus::Failed] {
            let items = items(app, status, ROUND).await?;
            more_left |= items.len() == ROUND;
            ids.extend(items.into_iter().map(|i| i.id));
        }
    }
    if ids.is_empty() {
        return Err(crate::exit::usage("nothing to replay: give inbox item ids, or --all"));
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
        eprintln!("replayed the oldest {ROUND} items of a status; more may remain: run `inbox replay --all` again");
    }
    if failed > 0 {
        bail!("{failed} item(s) could not be processed");
    }
    Ok(())
}

pub(crate) async fn sweep(app: &App, retention: &Retention) -> Result<()> {
    let r = app.sweep_retention(retention).await?;
    println!(
        "removed {} raw bodies, {} IP addresses and {} user agents of inquiries processed longer ago than kept, \
         and {} entries of the change feed",
        r.inbox_bodies, r.ip_addresses, r.user_agents, r.changes
    );
    Ok(())
}
