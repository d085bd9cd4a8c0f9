//! Web forms: the forms whose inquiries capture takes in, each with its key, the
//! defaults it gives its responses and where browsers may post it from.

use crate::ErrorCode;
use crate::error::{invalid, optional_text};
use crate::{App, AppError};
use leadgate_core::Ident;
use leadgate_core::ident::truncate;
use leadgate_core::model::Form;
use serde::Deserialize;
use uuid::Uuid;

/// A web form to create; unknown fields are refused with `invalid_field`.
#[derive(Debug, Clone, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct FormInput {
    /// Trimmed; 1–200 characters (blank: `missing_field`).
    pub name: String,
    /// An identifier (e.g. `paid_search`): the default channel of responses from this form.
    pub channel: Option<String>,
    /// At most 200 characters: the default offer (the *why*).
    pub offer: Option<String>,
    /// At most 200 characters: the default campaign.
    pub campaign: Option<String>,
    /// Browser origins allowed to post: `http://` or `https://`, host, optional port, no
    /// path; a trailing `/` is dropped and the value lower-cased. Empty: any origin.
    #[serde(default)]
    pub allowed_origins: Vec<String>,
    /// Where a browser that posted the form as a plain HTML form is sent afterwards
    /// (`303 See Other`): an absolute `http(s)://` URL of at most 2,048 characters
    /// (else `invalid_url`). Without it the browser gets a small thank-you page.
    pub thank_you_url: Option<String>,
}

/// `scheme://host[:port]`, lower-cased, as browsers send in `Origin`.
fn parse_origin(s: &str) -> Option<String> {
    let s = s.trim().trim_end_matches('/').to_ascii_lowercase();
    let rest = s.strip_prefix("https://").or_else(|| s.strip_prefix("http://"))?;
    let ok = !rest.is_empty() && rest.chars().all(|c| c.is_ascii_alphanumeric() || ".-:[]".contains(c));
    ok.then_some(s)
}

/// An absolute `http(s)://host/…` URL of at most 2,048 characters, without spaces or
/// control characters: a browser is sent there.
fn parse_thank_you_url(s: &str) -> Option<String> {
    let s = s.trim();
    let rest = s.strip_prefix("https://").or_else(|| s.strip_prefix("http://"))?;
    let host = rest.split(['/', '?', '#']).next().unwrap_or_default();
    let ok = !host.is_empty()
        && s.len() <= 2_048
        && !s.chars().any(|c| c.is_control() || c.is_whitespace() || c == '"' || c == '<' || c == '>' || c == '\\');
    ok.then(|| s.to_owned())
}

impl App {
    pub async fn create_form(&self, input: FormInput) -> Result<Form, AppError> {
        let name = optional_text(&Some(input.name), "name", 200)?
            .ok_or_else(|| invalid(ErrorCode::MissingField, "name", "name is required"))?;
        let channel = match input.channel.as_deref().map(str::trim).filter(|s| !s.is_empty()) {
            Some(c) => Some(Ident::field(c, "channel", "channel").map_err(AppError::from)?.to_string()),
            None => None,
        };
        let mut origins = Vec::new();
        for (i, o) in input.allowed_origins.iter().enumerate() {
            origins.push(parse_origin(o).ok_or_else(|| {
                invalid(
                    ErrorCode::InvalidOrigin,
                    &format!("allowed_origins[{i}]"),
                    format!("{:?} is not an origin such as https://www.example.com", truncate(o, 80)),
                )
            })?);
        }
        let form = Form {
            id: Uuid::now_v7(),
            key: format!("f_{}", hex::encode(crate::random_bytes::<12>())),
            name,
            channel,
            offer: optional_text(&input.offer, "offer", 200)?,
            campaign: optional_text(&input.campaign, "campaign", 200)?,
            allowed_origins: origins,
            thank_you_url: match input.thank_you_url.as_deref().map(str::trim).filter(|s| !s.is_empty()) {
                Some(url) => Some(parse_thank_you_url(url).ok_or_else(|| {
                    invalid(
                        ErrorCode::InvalidUrl,
                        "thank_you_url",
                        format!(
                            "{:?} is not an http:// or https:// URL such as https://www.example.com/thanks",
                            truncate(url, 80)
                        ),
                    )
                })?),
                None => None,
            },
            created_at: self.now(),
        };
        let mut tx = self.store.begin().await?;
        tx.insert_form(&form).await?;
        tx.commit().await?;
        Ok(form)
    }
}
