//! CyberTips as they really arrive: NCMEC's CyberTipline makes a report available to
//! the state's ICAC Task Force, which triages it by NCMEC's priority and disseminates
//! it to a local unit; the unit's acknowledgement starts its duties (its 14-day clock
//! runs from the acknowledgement: that is when it received the information).
//!
//! One stream per tip number (aggregate type `ncmec_tip`). The report's fields follow
//! NCMEC's published report structure (docs/DOMAIN.md maps each one).

use cqrs_es::event_sink::EventSink;
use cqrs_es::{Aggregate, DomainEvent};
use jiff::civil::Date;
use jiff::Timestamp;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::ids::{CaseId, CyberTipNumber, Ori};
use crate::local_time::ct_date;
use crate::sealed::Sealed;
use crate::services::UnitDirectory;
use crate::text::{self, limits, TextError};

/// Files one report may describe.
pub const MAX_FILES: usize = 1_000;

/// NCMEC's priority level of a report.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, JsonSchema,
)]
pub enum NcmecPriority {
    /// A child may be in imminent danger.
    #[serde(rename = "1")]
    Level1,
    #[serde(rename = "2")]
    Level2,
    #[serde(rename = "3")]
    Level3,
    /// Informational: no further priority assigned.
    #[serde(rename = "E")]
    Informational,
}

/// NCMEC's incident types (the report's `/report/incidentSummary/incidentType`). Stored
/// and answered as the snake_case names; NCMEC's own text for each (its Reporting API's
/// enumeration, e.g. "Online Enticement of Children for Sexual Acts") is accepted too,
/// so a report copied from NCMEC's export needs no translation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum NcmecIncidentType {
    #[serde(alias = "Child Pornography (possession, manufacture, and distribution)")]
    ChildPornography,
    #[serde(alias = "Child Sex Trafficking")]
    ChildSexTrafficking,
    #[serde(alias = "Child Sex Tourism")]
    ChildSexTourism,
    #[serde(alias = "Child Sexual Molestation")]
    ChildSexualMolestation,
    #[serde(alias = "Misleading Domain Name")]
    MisleadingDomainName,
    #[serde(alias = "Misleading Words or Digital Images on the Internet")]
    MisleadingWordsOrDigitalImages,
    #[serde(alias = "Online Enticement of Children for Sexual Acts")]
    OnlineEnticementOfChildren,
    #[serde(alias = "Unsolicited Obscene Material Sent to a Child")]
    UnsolicitedObsceneMaterialToChild,
}

impl NcmecIncidentType {
    /// NCMEC's text for the type (its Reporting API's enumeration value).
    pub fn ncmec_text(self) -> &'static str {
        match self {
            Self::ChildPornography => {
                "Child Pornography (possession, manufacture, and distribution)"
            }
            Self::ChildSexTrafficking => "Child Sex Trafficking",
            Self::ChildSexTourism => "Child Sex Tourism",
            Self::ChildSexualMolestation => "Child Sexual Molestation",
            Self::MisleadingDomainName => "Misleading Domain Name",
            Self::MisleadingWordsOrDigitalImages => {
                "Misleading Words or Digital Images on the Internet"
            }
            Self::OnlineEnticementOfChildren => "Online Enticement of Children for Sexual Acts",
            Self::UnsolicitedObsceneMaterialToChild => {
                "Unsolicited Obscene Material Sent to a Child"
            }
        }
    }
}

/// A provider's annotation of a file (the report's `fileAnnotations`), spelled as
/// NCMEC spells them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub enum FileAnnotation {
    AnimeDrawingVirtualHentai,
    PotentialMeme,
    Viral,
    PossibleSelfProduction,
    PhysicalHarm,
    ViolenceGore,
    Bestiality,
    LiveStreaming,
    Infant,
    GenerativeAi,
}

/// One reported file: what the provider said about it, never the file or its hash.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct TipFile {
    #[serde(default)]
    pub annotations: Vec<FileAnnotation>,
    /// Whether the provider viewed the file before reporting (`fileViewedByEsp`).
    pub viewed_by_provider: bool,
}

/// NCMEC's location estimate (from the upload IP). The city is personal: with the
/// rest it can point at a person, so it is sealed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct LocationEstimate {
    /// ISO 3166-1 alpha-2 country code.
    #[schemars(length(min = 2, max = 2))]
    pub country: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 60))]
    pub region: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 60))]
    pub city: Option<Sealed<String>>,
}

/// The report as the Task Force takes it in.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct NcmecReport {
    pub cybertip_number: CyberTipNumber,
    pub priority: NcmecPriority,
    pub incident_type: NcmecIncidentType,
    /// The electronic service provider that reported (e.g. "Example Messenger, Inc.").
    #[schemars(length(min = 1, max = 120))]
    pub reporting_provider: String,
    /// Connecticut date NCMEC made the report available to the Task Force.
    pub made_available_on: Date,
    #[serde(default)]
    #[schemars(length(max = 1000))]
    pub files: Vec<TipFile>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub location: Option<LocationEstimate>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TipCommand {
    Receive {
        report: NcmecReport,
        recorded_at: Timestamp,
    },
    Triage {
        priority: NcmecPriority,
        recorded_at: Timestamp,
    },
    Disseminate {
        to_unit: Ori,
        recorded_at: Timestamp,
    },
    /// The receiving unit takes the tip, as its case `case_id`.
    Acknowledge {
        unit: Ori,
        case_id: CaseId,
        recorded_at: Timestamp,
    },
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum TipEvent {
    TipReceived {
        report: NcmecReport,
        recorded_at: Timestamp,
    },
    TipTriaged {
        priority: NcmecPriority,
        recorded_at: Timestamp,
    },
    TipDisseminated {
        to_unit: Ori,
        disseminated_on: Date,
        recorded_at: Timestamp,
    },
    TipAcknowledged {
        unit: Ori,
        case_id: CaseId,
        acknowledged_on: Date,
        recorded_at: Timestamp,
    },
}

impl crate::sealed::SealedEffects for TipEvent {}

impl DomainEvent for TipEvent {
    fn event_type(&self) -> String {
        match self {
            Self::TipReceived { .. } => "TipReceived",
            Self::TipTriaged { .. } => "TipTriaged",
            Self::TipDisseminated { .. } => "TipDisseminated",
            Self::TipAcknowledged { .. } => "TipAcknowledged",
        }
        .to_string()
    }
    fn event_version(&self) -> String {
        crate::EVENT_VERSION_1.to_string()
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, strum::IntoStaticStr)]
#[strum(serialize_all = "snake_case")]
pub enum TipError {
    #[error("CyberTip {0} has already been received")]
    AlreadyReceived(CyberTipNumber),
    #[error("this CyberTip has not been received")]
    NotReceived,
    #[error("the report names CyberTip {report} but this stream is CyberTip {stream}")]
    WrongStream {
        stream: String,
        report: CyberTipNumber,
    },
    #[error("{field} {problem}")]
    InvalidText {
        field: &'static str,
        problem: TextError,
    },
    #[error("made_available_on {0} is in the future or before 1998")]
    MadeAvailableOutOfRange(Date),
    #[error("files: at most {MAX_FILES}")]
    TooManyFiles,
    #[error("location.country must be a two-letter ISO 3166-1 code")]
    Country,
    #[error("no law enforcement unit with ORI {0} is registered")]
    UnknownUnit(Ori),
    #[error("unit {0} is deactivated: a tip cannot be disseminated to it")]
    InactiveUnit(Ori),
    #[error("the tip is already disseminated to {0} and awaits its acknowledgement")]
    AwaitingAcknowledgement(Ori),
    #[error("the tip has not been disseminated")]
    NotDisseminated,
    #[error("the tip was disseminated to {to}, not to {unit}")]
    NotTheReceivingUnit { to: Ori, unit: Ori },
    #[error("unit {0} has already acknowledged this tip")]
    AlreadyAcknowledged(Ori),
}

impl crate::text::BlamesField for TipError {
    fn rule(&self) -> &'static str {
        self.into()
    }

    fn blamed_field(&self) -> Option<&'static str> {
        match self {
            TipError::InvalidText { field, .. } => Some(field),
            TipError::MadeAvailableOutOfRange(_) => Some("made_available_on"),
            TipError::TooManyFiles => Some("files"),
            TipError::Country => Some("location.country"),
            TipError::WrongStream { .. } | TipError::AlreadyReceived(_) => Some("cybertip_number"),
            TipError::UnknownUnit(_)
            | TipError::InactiveUnit(_)
            | TipError::AwaitingAcknowledgement(_) => Some("to_unit"),
            TipError::NotTheReceivingUnit { .. } | TipError::AlreadyAcknowledged(_) => Some("unit"),
            TipError::NotReceived | TipError::NotDisseminated => None,
        }
    }
}

/// State of one tip.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Tip {
    pub cybertip_number: Option<CyberTipNumber>,
    pub priority: Option<NcmecPriority>,
    /// The unit it was last disseminated to, and whether that unit acknowledged.
    pub disseminated_to: Option<Ori>,
    pub acknowledged: bool,
    pub case_id: Option<CaseId>,
}

/// Earliest plausible date NCMEC made a report available.
const EARLIEST_TIP: Date = jiff::civil::date(1998, 1, 1);

fn check_report(r: &NcmecReport, at: Timestamp) -> Result<(), TipError> {
    text::check(&r.reporting_provider, limits::NAME).map_err(|problem| TipError::InvalidText {
        field: "reporting_provider",
        problem,
    })?;
    if r.made_available_on > ct_date(at) || r.made_available_on < EARLIEST_TIP {
        return Err(TipError::MadeAvailableOutOfRange(r.made_available_on));
    }
    if r.files.len() > MAX_FILES {
        return Err(TipError::TooManyFiles);
    }
    if let Some(l) = &r.location {
        if l.country.len() != 2 || !l.country.bytes().all(|b| b.is_ascii_uppercase()) {
            return Err(TipError::Country);
        }
        if let Some(region) = &l.region {
            text::check(region, limits::SHORT).map_err(|problem| TipError::InvalidText {
                field: "location.region",
                problem,
            })?;
        }
        if let Some(Sealed::Open(city)) = &l.city {
            text::check(city, limits::SHORT).map_err(|problem| TipError::InvalidText {
                field: "location.city",
                problem,
            })?;
        }
    }
    Ok(())
}

impl Tip {
    pub fn decide(
        &self,
        command: TipCommand,
        units: &dyn UnitDirectory,
    ) -> Result<Vec<TipEvent>, TipError> {
        match command {
            TipCommand::Receive {
                report,
                recorded_at,
            } => {
                if let Some(n) = &self.cybertip_number {
                    return Err(TipError::AlreadyReceived(n.clone()));
                }
                check_report(&report, recorded_at)?;
                Ok(vec![TipEvent::TipReceived {
                    report,
                    recorded_at,
                }])
            }
            TipCommand::Triage {
                priority,
                recorded_at,
            } => {
                self.cybertip_number.as_ref().ok_or(TipError::NotReceived)?;
                Ok(vec![TipEvent::TipTriaged {
                    priority,
                    recorded_at,
                }])
            }
            TipCommand::Disseminate {
                to_unit,
                recorded_at,
            } => {
                self.cybertip_number.as_ref().ok_or(TipError::NotReceived)?;
                match units.unit(&to_unit) {
                    None => return Err(TipError::UnknownUnit(to_unit)),
                    Some(u) if !u.active => return Err(TipError::InactiveUnit(to_unit)),
                    Some(_) => {}
                }
                if let (Some(to), false) = (&self.disseminated_to, self.acknowledged) {
                    return Err(TipError::AwaitingAcknowledgement(to.clone()));
                }
                if self.acknowledged && self.disseminated_to.as_ref() == Some(&to_unit) {
                    return Err(TipError::AlreadyAcknowledged(to_unit));
                }
                Ok(vec![TipEvent::TipDisseminated {
                    to_unit,
                    disseminated_on: ct_date(recorded_at),
                    recorded_at,
                }])
            }
            TipCommand::Acknowledge {
                unit,
                case_id,
                recorded_at,
            } => {
                let Some(to) = &self.disseminated_to else {
                    return Err(TipError::NotDisseminated);
                };
                if *to != unit {
                    return Err(TipError::NotTheReceivingUnit {
                        to: to.clone(),
                        unit,
                    });
                }
                if self.acknowledged {
                    return Err(TipError::AlreadyAcknowledged(unit));
                }
                Ok(vec![TipEvent::TipAcknowledged {
                    unit,
                    case_id,
                    acknowledged_on: ct_date(recorded_at),
                    recorded_at,
                }])
            }
        }
    }
}

impl Aggregate for Tip {
    const TYPE: &'static str = "ncmec_tip";
    type Command = TipCommand;
    type Event = TipEvent;
    type Error = TipError;
    type Services = std::sync::Arc<dyn UnitDirectory>;

    async fn handle(
        &mut self,
        command: Self::Command,
        units: &Self::Services,
        sink: &EventSink<Self>,
    ) -> Result<(), Self::Error> {
        for event in self.decide(command, units.as_ref())? {
            sink.write(event, self).await;
        }
        Ok(())
    }

    fn apply(&mut self, event: Self::Event) {
        match event {
            TipEvent::TipReceived { report, .. } => {
                self.priority = Some(report.priority);
                self.cybertip_number = Some(report.cybertip_number);
            }
            TipEvent::TipTriaged { priority, .. } => self.priority = Some(priority),
            TipEvent::TipDisseminated { to_unit, .. } => {
                self.disseminated_to = Some(to_unit);
                self.acknowledged = false;
            }
            TipEvent::TipAcknowledged { case_id, .. } => {
                self.acknowledged = true;
                self.case_id = Some(case_id);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::NcmecIncidentType;

    /// NCMEC's own text for every incident type reads as that type, and the stored
    /// (snake_case) name is what is written back.
    #[test]
    fn ncmec_incident_type_text_is_accepted() {
        for t in [
            NcmecIncidentType::ChildPornography,
            NcmecIncidentType::ChildSexTrafficking,
            NcmecIncidentType::ChildSexTourism,
            NcmecIncidentType::ChildSexualMolestation,
            NcmecIncidentType::MisleadingDomainName,
            NcmecIncidentType::MisleadingWordsOrDigitalImages,
            NcmecIncidentType::OnlineEnticementOfChildren,
            NcmecIncidentType::UnsolicitedObsceneMaterialToChild,
        ] {
            let text = serde_json::Value::String(t.ncmec_text().to_string());
            assert_eq!(
                serde_json::from_value::<NcmecIncidentType>(text).unwrap(),
                t
            );
            let stored = serde_json::to_value(t).unwrap();
            assert_eq!(
                serde_json::from_value::<NcmecIncidentType>(stored.clone()).unwrap(),
                t
            );
            assert!(stored
                .as_str()
                .unwrap()
                .chars()
                .all(|c| c.is_ascii_lowercase() || c == '_'));
        }
        assert!(
            serde_json::from_value::<NcmecIncidentType>("Apparent Child Pornography".into())
                .is_err()
        );
    }
}
