//! The vocabulary of the form: Connecticut offense statutes (with a proposed
//! NIBRS code each), incident types, sources and media. Shipped as data
//! (`data/catalog.json`) so analysts can review it without reading Rust; the
//! enums below are the closed sets the code branches on, and a test keeps the
//! two in step.

use std::collections::BTreeMap;
use std::sync::OnceLock;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::ids::StatuteCode;

const CATALOG_JSON: &str = include_str!("../data/catalog.json");

/// NCMEC CyberTipline incident categories, in "child sexual abuse material"
/// vocabulary (Public Act 24-118).
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum IncidentType {
    CsamPossession,
    CsamManufacture,
    CsamDistribution,
    ChildSexTrafficking,
    ChildSexTourism,
    ChildSexualMolestation,
    MisleadingDomainName,
    MisleadingWordsOrImages,
    OnlineEnticement,
    UnsolicitedObsceneMaterialToChild,
    Other,
}

impl IncidentType {
    pub const ALL: [IncidentType; 11] = [
        Self::CsamPossession,
        Self::CsamManufacture,
        Self::CsamDistribution,
        Self::ChildSexTrafficking,
        Self::ChildSexTourism,
        Self::ChildSexualMolestation,
        Self::MisleadingDomainName,
        Self::MisleadingWordsOrImages,
        Self::OnlineEnticement,
        Self::UnsolicitedObsceneMaterialToChild,
        Self::Other,
    ];
}

/// Where the unit's information came from (the kind only; the form's
/// `source` carries the reference number where one exists).
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum SourceKind {
    NcmecCybertip,
    PublicReport,
    School,
    Parent,
    Dcf,
    OtherAgency,
    OnlineServiceProvider,
    ProactiveUndercover,
}

impl SourceKind {
    pub const ALL: [SourceKind; 8] = [
        Self::NcmecCybertip,
        Self::PublicReport,
        Self::School,
        Self::Parent,
        Self::Dcf,
        Self::OtherAgency,
        Self::OnlineServiceProvider,
        Self::ProactiveUndercover,
    ];
}

/// The medium through which the offense happened.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum Medium {
    Web,
    ChatIm,
    Gaming,
    Phone,
    PeerToPeer,
    Email,
    NonInternet,
}

impl Medium {
    pub const ALL: [Medium; 7] = [
        Self::Web,
        Self::ChatIm,
        Self::Gaming,
        Self::Phone,
        Self::PeerToPeer,
        Self::Email,
        Self::NonInternet,
    ];
}

/// One offense statute.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Statute {
    pub code: StatuteCode,
    pub title: String,
    /// Proposed NIBRS offense code; see [`Catalog::nibrs_note`].
    pub proposed_nibrs: String,
    pub csam_related: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Label<T> {
    pub code: T,
    pub label: String,
}

/// The whole catalog.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Catalog {
    pub catalog_version: String,
    /// Caveat that must accompany any NIBRS figure.
    pub nibrs_note: String,
    pub statutes: Vec<Statute>,
    pub incident_types: Vec<Label<IncidentType>>,
    pub sources: Vec<Label<SourceKind>>,
    pub media: Vec<Label<Medium>>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("the built-in catalog (data/catalog.json) is invalid: {0}")]
pub struct CatalogError(String);

static BUILTIN: OnceLock<Result<Catalog, CatalogError>> = OnceLock::new();

impl Catalog {
    /// The catalog shipped with this crate, parsed once.
    pub fn builtin() -> Result<&'static Catalog, CatalogError> {
        BUILTIN
            .get_or_init(|| Self::parse(CATALOG_JSON))
            .as_ref()
            .map_err(Clone::clone)
    }

    /// Parses a catalog document (the built-in one, or a reviewed revision).
    pub fn parse(json: &str) -> Result<Catalog, CatalogError> {
        serde_json::from_str(json).map_err(|e| CatalogError(e.to_string()))
    }

    pub fn statute(&self, code: &StatuteCode) -> Option<&Statute> {
        self.statutes.iter().find(|s| &s.code == code)
    }

    pub fn contains(&self, code: &StatuteCode) -> bool {
        self.statute(code).is_some()
    }

    /// Statute codes grouped by proposed NIBRS code, for reports.
    pub fn by_nibrs(&self) -> BTreeMap<&str, Vec<&StatuteCode>> {
        let mut map: BTreeMap<&str, Vec<&StatuteCode>> = BTreeMap::new();
        for s in &self.statutes {
            map.entry(s.proposed_nibrs.as_str())
                .or_default()
                .push(&s.code);
        }
        map
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builtin_catalog_parses_and_covers_every_enum_variant() {
        let c = Catalog::builtin().unwrap();
        for t in IncidentType::ALL {
            assert!(c.incident_types.iter().any(|l| l.code == t), "{t:?}");
        }
        for s in SourceKind::ALL {
            assert!(c.sources.iter().any(|l| l.code == s), "{s:?}");
        }
        for m in Medium::ALL {
            assert!(c.media.iter().any(|l| l.code == m), "{m:?}");
        }
        for code in [
            "53a-90a", "53a-90b", "53a-196a", "53a-196b", "53a-196c", "53a-196d", "53a-196e",
            "53a-196f", "53a-196h", "53a-196i", "53a-196j", "53a-83b", "53-21", "53a-192a",
        ] {
            assert!(c.contains(&StatuteCode::parse(code).unwrap()), "{code}");
        }
        // No duplicate codes, and no retired vocabulary.
        let mut codes: Vec<_> = c.statutes.iter().map(|s| s.code.clone()).collect();
        codes.sort();
        codes.dedup();
        assert_eq!(codes.len(), c.statutes.len());
        assert!(!CATALOG_JSON.to_lowercase().contains("pornography"));
    }
}
