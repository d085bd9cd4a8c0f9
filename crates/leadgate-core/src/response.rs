//! Responses: where a contact came from, what they did, and why.

use crate::Ident;
use serde::{Deserialize, Serialize};
use std::fmt;

/// Inbound came to us; outbound we went and found.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Direction {
    Inbound,
    Outbound,
}

impl Direction {
    pub fn as_str(self) -> &'static str {
        match self {
            Direction::Inbound => "inbound",
            Direction::Outbound => "outbound",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        let s = s.trim();
        [Direction::Inbound, Direction::Outbound].into_iter().find(|d| d.as_str().eq_ignore_ascii_case(s))
    }
}

impl fmt::Display for Direction {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The channels leadgate knows by name, with the direction each implies. Other channel
/// identifiers are accepted and count as inbound unless the response says otherwise.
pub const KNOWN_CHANNELS: &[(&str, Direction)] = &[
    ("organic_search", Direction::Inbound),
    ("paid_search", Direction::Inbound),
    ("social", Direction::Inbound),
    ("referral", Direction::Inbound),
    ("word_of_mouth", Direction::Inbound),
    ("pr", Direction::Inbound),
    ("email_newsletter", Direction::Inbound),
    ("display", Direction::Inbound),
    ("event", Direction::Inbound),
    ("phone", Direction::Inbound),
    ("website", Direction::Inbound),
    ("direct", Direction::Inbound),
    ("purchased_list", Direction::Outbound),
    ("pay_per_lead", Direction::Outbound),
    ("cold_outreach", Direction::Outbound),
    ("cold_call", Direction::Outbound),
    ("market_development", Direction::Outbound),
];

/// The direction a channel implies.
pub fn channel_direction(channel: Option<&Ident>) -> Direction {
    channel
        .and_then(|c| KNOWN_CHANNELS.iter().find(|(name, _)| *name == c.as_str()))
        .map_or(Direction::Inbound, |(_, d)| *d)
}

/// Where a response came from.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct Source {
    pub channel: Option<Ident>,
    pub campaign: Option<String>,
    pub placement: Option<String>,
    pub referrer: Option<String>,
    pub vendor: Option<String>,
}

/// What the contact did. Known actions are listed in [`KNOWN_ACTIONS`]; other identifiers
/// are accepted as custom actions.
pub type Action = Ident;

pub const KNOWN_ACTIONS: &[&str] = &[
    "form_fill",
    "download",
    "registration",
    "attendance",
    "call",
    "demo_request",
    "contact_request",
    "proposal_request",
    "trial_signup",
    "list_entry",
];

/// How the data reached us, which says much about its quality.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ObtainedVia {
    /// The person filled in one of our own forms.
    OwnForm,
    /// A third party's form, whose owner appended the rest from a database.
    ThirdPartyForm,
    /// A list of people interested in the category.
    CategoryList,
    /// A list of people who asked a competitor.
    CompetitorList,
    /// Imported from a list or another system.
    ListImport,
    /// Logged by a person (a phone call, a conversation at an event).
    Logged,
    /// Sent by an integration through the API.
    Api,
}

impl ObtainedVia {
    pub const ALL: [ObtainedVia; 7] = [
        ObtainedVia::OwnForm,
        ObtainedVia::ThirdPartyForm,
        ObtainedVia::CategoryList,
        ObtainedVia::CompetitorList,
        ObtainedVia::ListImport,
        ObtainedVia::Logged,
        ObtainedVia::Api,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            ObtainedVia::OwnForm => "own_form",
            ObtainedVia::ThirdPartyForm => "third_party_form",
            ObtainedVia::CategoryList => "category_list",
            ObtainedVia::CompetitorList => "competitor_list",
            ObtainedVia::ListImport => "list_import",
            ObtainedVia::Logged => "logged",
            ObtainedVia::Api => "api",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        let s = s.trim();
        Self::ALL.into_iter().find(|v| v.as_str().eq_ignore_ascii_case(s))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn outbound_channels_imply_outbound() {
        let list = Ident::parse("purchased_list").unwrap();
        let search = Ident::parse("organic_search").unwrap();
        let custom = Ident::parse("podcast").unwrap();
        assert_eq!(channel_direction(Some(&list)), Direction::Outbound);
        assert_eq!(channel_direction(Some(&search)), Direction::Inbound);
        assert_eq!(channel_direction(Some(&custom)), Direction::Inbound);
        assert_eq!(channel_direction(None), Direction::Inbound);
    }
}
