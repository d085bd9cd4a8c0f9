//! Built-in mappings for the export layouts of other systems.

use super::Mapping;

/// `(name, mapping TOML)` of each preset; the files are in `crates/leadgate-core/presets`.
pub const PRESETS: &[(&str, &str)] = &[
    ("hubspot", include_str!("../../presets/hubspot.toml")),
    ("hubspot-deals", include_str!("../../presets/hubspot-deals.toml")),
    ("salesforce", include_str!("../../presets/salesforce.toml")),
    ("salesforce-opportunities", include_str!("../../presets/salesforce-opportunities.toml")),
    ("leadgate-contacts", include_str!("../../presets/leadgate-contacts.toml")),
    ("leadgate-responses", include_str!("../../presets/leadgate-responses.toml")),
    ("leadgate-stage-changes", include_str!("../../presets/leadgate-stage-changes.toml")),
    ("leadgate-events", include_str!("../../presets/leadgate-events.toml")),
];

pub fn preset(name: &str) -> Option<Mapping> {
    PRESETS
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case(name.trim()))
        .map(|(_, text)| Mapping::from_toml(text).expect("built-in presets are valid"))
}

pub fn names() -> Vec<&'static str> {
    PRESETS.iter().map(|(n, _)| *n).collect()
}

#[cfg(test)]
mod tests {
    #[test]
    fn every_preset_is_a_valid_mapping() {
        for name in super::names() {
            assert!(super::preset(name).is_some(), "{name}");
        }
        assert!(super::preset("HubSpot").is_some());
        assert!(super::preset("pipedrive").is_none());
    }
}
