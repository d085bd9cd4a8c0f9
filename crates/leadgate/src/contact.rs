//! A person's data at the command line: erasure and subject access.

use anyhow::{Context, Result};
use leadgate_app::App;
use leadgate_core::Actor;

pub(crate) async fn erase(app: &App, contact: &str, reason: &str) -> Result<()> {
    let id = app.find_person(contact).await.map_err(crate::exit::app)?;
    let report = app.erase_contact(id, Some(reason), &Actor::Operator).await.map_err(crate::exit::app)?;
    let r = &report.removed;
    println!(
        "erased contact {} ({} merged into it): {} responses, {} events, {} inquiries as received, {} recorded \
         changes, {} ids in other systems, {} visitor ids, {} merges",
        report.contact_id,
        report.merged_contacts.len(),
        r.responses,
        r.events,
        r.inbox_items,
        r.field_changes,
        r.external_ids,
        r.visitor_ids,
        r.merges
    );
    Ok(())
}

pub(crate) async fn personal_data(app: &App, contact: &str) -> Result<()> {
    let id = app.find_person(contact).await.map_err(crate::exit::app)?;
    let data = app.personal_data(id, &Actor::Operator).await.map_err(crate::exit::app)?;
    println!("{}", serde_json::to_string_pretty(&data).context("cannot write the personal data as JSON")?);
    Ok(())
}
