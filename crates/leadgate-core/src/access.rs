//! Who may do what.

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::fmt;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    Admin,
    Marketing,
    Sales,
    /// A sales or marketing manager: Sales' work, and the teams, people and routing.
    Manager,
    Readonly,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Permission {
    /// Read contacts, accounts and their history.
    ReadContacts,
    /// Send activity events.
    WriteEvents,
    /// Move a contact between stages by hand.
    ChangeStage,
    /// Create and change web forms.
    ManageForms,
    /// Inspect and replay the inquiry inbox.
    ManageInbox,
    /// Import files of contacts and history.
    ImportData,
    /// Export every contact and its history in bulk.
    ExportData,
    /// Merge duplicate contacts, and undo merges.
    MergeContacts,
    /// Write and activate scoring models, rescore, train predictive models.
    ManageScoring,
    /// Write and activate lead definitions.
    ManageDefinitions,
    /// Record qualification fields (budget, authority, need, timeline).
    Qualify,
    /// Run a backtest: a walk over every contact, so not for every reader.
    RunBacktests,
    /// Record consent, and the wishes not to be emailed or called.
    ManageConsent,
    /// Erase a person, read everything held about one, set legal holds, read the audit.
    ManagePersonalData,
    /// Read the reports: counts and figures of the whole funnel.
    ReadReports,
    /// Record and remove spend entries.
    RecordSpend,
    /// Change the workspace's settings (its currency).
    ManageSettings,
    /// Manage users, teams, queues and the routing rules.
    ManageTeams,
    /// Work a queue: accept or reject the contacts handed over.
    WorkQueue,
    /// Read the audit log: who did what, when.
    ReadAudit,
}

impl Permission {
    /// What it allows, as the end of "the readonly role may not …".
    pub fn action(self) -> &'static str {
        match self {
            Permission::ReadContacts => "read contacts",
            Permission::WriteEvents => "send events or inquiries with a key",
            Permission::ChangeStage => "move contacts between stages",
            Permission::ManageForms => "manage web forms",
            Permission::ManageInbox => "inspect or replay the inquiry inbox",
            Permission::ImportData => "import data",
            Permission::ExportData => "export data",
            Permission::MergeContacts => "merge contacts",
            Permission::ManageScoring => "manage scoring models or train the predictive model",
            Permission::ManageDefinitions => "manage lead definitions",
            Permission::Qualify => "record qualification",
            Permission::RunBacktests => "run backtests or duplicate searches",
            Permission::ManageConsent => "record consent or do-not-contact wishes",
            Permission::ManagePersonalData => "erase or read a person's data or set legal holds",
            Permission::ReadReports => "read reports",
            Permission::RecordSpend => "record or remove spend",
            Permission::ManageSettings => "change the workspace's settings",
            Permission::ManageTeams => "manage users, teams or routing",
            Permission::WorkQueue => "accept or reject contacts handed over",
            Permission::ReadAudit => "read the audit log",
        }
    }
}

impl Role {
    pub const ALL: [Role; 5] = [Role::Admin, Role::Marketing, Role::Sales, Role::Manager, Role::Readonly];

    pub fn as_str(self) -> &'static str {
        match self {
            Role::Admin => "admin",
            Role::Marketing => "marketing",
            Role::Sales => "sales",
            Role::Manager => "manager",
            Role::Readonly => "readonly",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|r| r.as_str() == s.trim().to_ascii_lowercase())
    }

    pub fn can(self, p: Permission) -> bool {
        use Permission::*;
        match self {
            Role::Admin => true,
            // Every role may read the reports made of the contacts.
            _ if p == ReadReports => true,
            Role::Marketing => matches!(
                p,
                ReadContacts
                    | WriteEvents
                    | ChangeStage
                    | ManageForms
                    | ImportData
                    | ExportData
                    | MergeContacts
                    | ManageScoring
                    | ManageDefinitions
                    | Qualify
                    | RunBacktests
                    | ManageConsent
                    | RecordSpend
            ),
            // Sales owns the definition of a lead, and qualifies what it is handed.
            Role::Sales => matches!(
                p,
                ReadContacts
                    | WriteEvents
                    | ChangeStage
                    | MergeContacts
                    | ManageDefinitions
                    | Qualify
                    | RunBacktests
                    | ManageConsent
                    | WorkQueue
            ),
            // The audit log holds what was done to personal data: the administrator's.
            Role::Manager => Role::Sales.can(p) || p == ManageTeams,
            Role::Readonly => matches!(p, ReadContacts),
        }
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The stored form of an API key.
///
/// API keys are 256-bit random secrets, so a single SHA-256 is enough to make a stolen
/// database useless for authenticating, and it is cheap enough to check on every
/// request. (Passwords, which people choose and which are guessable, use a slow hash.)
pub fn api_key_hash(key: &str) -> Vec<u8> {
    Sha256::digest(key.as_bytes()).to_vec()
}

/// The prefix every API key starts with, so a leaked key is easy to recognise.
pub const API_KEY_PREFIX: &str = "lg_";

/// Builds an API key from 32 random bytes.
pub fn api_key_from_bytes(bytes: &[u8; 32]) -> String {
    format!("{API_KEY_PREFIX}{}", hex::encode(bytes))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn readonly_can_only_read() {
        assert!(Role::Readonly.can(Permission::ReadContacts));
        assert!(!Role::Readonly.can(Permission::WriteEvents));
        assert!(!Role::Sales.can(Permission::ManageForms));
        assert!(Role::Admin.can(Permission::ManageInbox));
        // Heavy work and personal data are not for every reader.
        assert!(!Role::Readonly.can(Permission::RunBacktests));
        assert!(Role::Sales.can(Permission::RunBacktests));
        assert!(!Role::Marketing.can(Permission::ManagePersonalData));
        assert!(Role::Admin.can(Permission::ManagePersonalData));
    }

    #[test]
    fn keys_hash_to_fixed_width_and_differ() {
        let a = api_key_from_bytes(&[1; 32]);
        let b = api_key_from_bytes(&[2; 32]);
        assert!(a.starts_with(API_KEY_PREFIX) && a.len() == 3 + 64);
        assert_ne!(api_key_hash(&a), api_key_hash(&b));
        assert_eq!(api_key_hash(&a).len(), 32);
    }
}
