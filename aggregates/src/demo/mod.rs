//! Deterministic synthetic activity for demonstrations and load tests.
//!
//! `generate(cases, seed, start)` scripts a year of plausible activity: units
//! across Connecticut register, complaints arrive from several sources, most
//! units file on time and some late or never, the Task Force triages, shares,
//! assigns, runs stings, records arrests, charges, referrals and corrections,
//! a few CyberTips are filed by a second unit, and public reports are routed.
//! Most CyberTips reach their unit through the Task Force's intake (NCMEC makes the
//! report available; the Task Force receives, triages and disseminates it; the unit
//! acknowledges it, which opens its case); a few tips stay informational or wait for an
//! acknowledgement. One case in twenty shares a screen name with a recent case of
//! another unit (the same suspect in two towns), for deconfliction to find.
//! Every name is synthetic; ORIs, CyberTip and receipt numbers are made up.
//! Same `(cases, seed, start)` ⇒ the same commands, on every platform.

pub mod prng;
mod year;

use std::collections::BTreeMap;

use jiff::civil::{Date, Time};
use jiff::{Span, Timestamp};
use serde::Serialize;

use crate::case::{
    AssignInvestigator, CaseCommand, CaseStatus, ChangeStatus, Charge, CorrectedValue,
    DecideReferral, Disposition, FileNotification, Investigator, InvestigatorRole, LinkOperation,
    LogComplaint, RecordArrest, RecordCorrection, RecordReferral, ReferralDecision, ReferralTarget,
    SetUrgent, ShareCategory, ShareDirection, ShareInformation, UrgencyReason,
};
use crate::catalog::{IncidentType, Medium};
use crate::cybertip::CyberTipCommand;
use crate::form::v1::{
    AgeBand, AssistanceRequested, Attestation, EvidenceHash, EvidenceSummary, FormVersion,
    HashAlgorithm, Incident, OfficerContact, ReceivedWhen, RestrictedTown, Source,
    SubjectIdentifier, SubjectIdentifierKind, Victim,
};
use crate::form::NotificationForm;
use crate::ids::{
    CaseId, CyberTipNumber, LedgerPosition, OperationId, Ori, ReceiptNumber, StatuteCode,
    UnitCaseNumber,
};
use crate::local_time::{connecticut, ct_date};
use crate::operation::{ConcludeOperation, OperationCommand, PlanOperation, RecordConduct};
use crate::public_report::{
    Channel, CloseReason, PublicReportCommand, ReportContent, TriagePriority,
};
use crate::tip_intake::{
    FileAnnotation, LocationEstimate, NcmecIncidentType, NcmecPriority, NcmecReport, TipCommand,
    TipFile,
};
use crate::units::{RegisterUnit, UnitCommand, UnitKind};
use prng::SplitMix64;

/// Largest number of cases one run may script (keeps memory bounded).
pub const MAX_CASES: usize = 200_000;

/// The command of a scripted step, by aggregate.
// Not boxed: the app matches on it directly, and a script of a few tens of
// thousands of steps is small.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "aggregate", content = "command", rename_all = "snake_case")]
pub enum DemoCommand {
    Unit(UnitCommand),
    /// Execute `FileNotification` through the filing orchestration
    /// (claim → file or link); every other case command directly.
    Case(CaseCommand),
    Cybertip(CyberTipCommand),
    Operation(OperationCommand),
    PublicReport(PublicReportCommand),
    /// A CyberTip at the Task Force: receive, triage, disseminate (aggregate
    /// `ncmec_tip`, id the tip number).
    Tip(TipCommand),
    /// The receiving unit acknowledges a disseminated tip as its case
    /// `unit_case_number`: execute through the intake orchestration (the tip records
    /// the acknowledgement, then the unit's case logs the complaint).
    AcknowledgeTip {
        cybertip_number: CyberTipNumber,
        unit: Ori,
        unit_case_number: UnitCaseNumber,
    },
}

/// For a correction: which earlier event's ledger position the app must put
/// in `RecordCorrection::corrects` before executing (positions only exist
/// once the app has stored events).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PositionQuery {
    pub aggregate_type: &'static str,
    pub aggregate_id: String,
    pub event_type: &'static str,
    /// 1-based occurrence of that event type in the stream.
    pub occurrence: u32,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ScriptedCommand {
    /// When it happens (also the command's `recorded_at`).
    pub at: Timestamp,
    pub aggregate_type: &'static str,
    pub aggregate_id: String,
    pub command: DemoCommand,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub resolve_position: Option<PositionQuery>,
}

impl ScriptedCommand {
    /// Fills in the ledger position a correction refers to.
    pub fn with_position(mut self, position: LedgerPosition) -> Self {
        if let DemoCommand::Case(CaseCommand::RecordCorrection(c)) = &mut self.command {
            c.corrects = position;
        }
        self
    }
}

struct UnitSeed {
    ori: &'static str,
    name: &'static str,
    kind: UnitKind,
    town: &'static str,
    /// Relative caseload.
    weight: u64,
}

const TASK_FORCE_ORI: &str = "CT0000100";

const UNITS: &[UnitSeed] = &[
    UnitSeed {
        ori: TASK_FORCE_ORI,
        name: "State Police Computer Crimes and Electronic Evidence Unit",
        kind: UnitKind::OtherStateAgency,
        town: "Meriden",
        weight: 6,
    },
    UnitSeed {
        ori: "CT0006400",
        name: "Hartford Police Department",
        kind: UnitKind::MunicipalPolice,
        town: "Hartford",
        weight: 10,
    },
    UnitSeed {
        ori: "CT0009300",
        name: "New Haven Police Department",
        kind: UnitKind::MunicipalPolice,
        town: "New Haven",
        weight: 10,
    },
    UnitSeed {
        ori: "CT0001500",
        name: "Bridgeport Police Department",
        kind: UnitKind::MunicipalPolice,
        town: "Bridgeport",
        weight: 10,
    },
    UnitSeed {
        ori: "CT0013500",
        name: "Stamford Police Department",
        kind: UnitKind::MunicipalPolice,
        town: "Stamford",
        weight: 8,
    },
    UnitSeed {
        ori: "CT0015100",
        name: "Waterbury Police Department",
        kind: UnitKind::MunicipalPolice,
        town: "Waterbury",
        weight: 8,
    },
    UnitSeed {
        ori: "CT0010300",
        name: "Norwalk Police Department",
        kind: UnitKind::MunicipalPolice,
        town: "Norwalk",
        weight: 6,
    },
    UnitSeed {
        ori: "CT0003400",
        name: "Danbury Police Department",
        kind: UnitKind::MunicipalPolice,
        town: "Danbury",
        weight: 6,
    },
    UnitSeed {
        ori: "CT0008900",
        name: "New Britain Police Department",
        kind: UnitKind::MunicipalPolice,
        town: "New Britain",
        weight: 6,
    },
    UnitSeed {
        ori: "CT0015500",
        name: "West Hartford Police Department",
        kind: UnitKind::MunicipalPolice,
        town: "West Hartford",
        weight: 4,
    },
    UnitSeed {
        ori: "CT0005700",
        name: "Greenwich Police Department",
        kind: UnitKind::MunicipalPolice,
        town: "Greenwich",
        weight: 4,
    },
    UnitSeed {
        ori: "CT0006200",
        name: "Hamden Police Department",
        kind: UnitKind::MunicipalPolice,
        town: "Hamden",
        weight: 4,
    },
    UnitSeed {
        ori: "CT0008000",
        name: "Meriden Police Department",
        kind: UnitKind::MunicipalPolice,
        town: "Meriden",
        weight: 4,
    },
    UnitSeed {
        ori: "CT0001700",
        name: "Bristol Police Department",
        kind: UnitKind::MunicipalPolice,
        town: "Bristol",
        weight: 4,
    },
    UnitSeed {
        ori: "CT0007700",
        name: "Manchester Police Department",
        kind: UnitKind::MunicipalPolice,
        town: "Manchester",
        weight: 4,
    },
    UnitSeed {
        ori: "CT0015600",
        name: "West Haven Police Department",
        kind: UnitKind::MunicipalPolice,
        town: "West Haven",
        weight: 4,
    },
    UnitSeed {
        ori: "CT0008400",
        name: "Milford Police Department",
        kind: UnitKind::MunicipalPolice,
        town: "Milford",
        weight: 3,
    },
    UnitSeed {
        ori: "CT0013800",
        name: "Stratford Police Department",
        kind: UnitKind::MunicipalPolice,
        town: "Stratford",
        weight: 3,
    },
    UnitSeed {
        ori: "CT0004200",
        name: "East Hartford Police Department",
        kind: UnitKind::MunicipalPolice,
        town: "East Hartford",
        weight: 3,
    },
    UnitSeed {
        ori: "CT0008300",
        name: "Middletown Police Department",
        kind: UnitKind::MunicipalPolice,
        town: "Middletown",
        weight: 3,
    },
    UnitSeed {
        ori: "CT0004700",
        name: "Enfield Police Department",
        kind: UnitKind::MunicipalPolice,
        town: "Enfield",
        weight: 3,
    },
    UnitSeed {
        ori: "CT0010400",
        name: "Norwich Police Department",
        kind: UnitKind::MunicipalPolice,
        town: "Norwich",
        weight: 3,
    },
    UnitSeed {
        ori: "CT0009500",
        name: "New London Police Department",
        kind: UnitKind::MunicipalPolice,
        town: "New London",
        weight: 2,
    },
    UnitSeed {
        ori: "CT0014300",
        name: "Torrington Police Department",
        kind: UnitKind::MunicipalPolice,
        town: "Torrington",
        weight: 2,
    },
    UnitSeed {
        ori: "CT0012600",
        name: "Shelton Police Department",
        kind: UnitKind::MunicipalPolice,
        town: "Shelton",
        weight: 2,
    },
    UnitSeed {
        ori: "CT0005200",
        name: "Glastonbury Police Department",
        kind: UnitKind::MunicipalPolice,
        town: "Glastonbury",
        weight: 2,
    },
    UnitSeed {
        ori: "CT0005100",
        name: "Fairfield Police Department",
        kind: UnitKind::MunicipalPolice,
        town: "Fairfield",
        weight: 3,
    },
    UnitSeed {
        ori: "CT0014800",
        name: "Wallingford Police Department",
        kind: UnitKind::MunicipalPolice,
        town: "Wallingford",
        weight: 2,
    },
    UnitSeed {
        ori: "CTCSP0800",
        name: "Connecticut State Police Troop H",
        kind: UnitKind::StatePoliceTroop,
        town: "Hartford",
        weight: 4,
    },
    UnitSeed {
        ori: "CTCSP0700",
        name: "Connecticut State Police Troop G",
        kind: UnitKind::StatePoliceTroop,
        town: "Bridgeport",
        weight: 3,
    },
    UnitSeed {
        ori: "CTCSP1000",
        name: "Connecticut State Police Troop K",
        kind: UnitKind::StatePoliceTroop,
        town: "Colchester",
        weight: 2,
    },
    UnitSeed {
        ori: "CT0007800",
        name: "University of Connecticut Police Department",
        kind: UnitKind::UniversityPolice,
        town: "Mansfield",
        weight: 1,
    },
    UnitSeed {
        ori: "CT0006900",
        name: "Mashantucket Pequot Tribal Police Department",
        kind: UnitKind::TribalPolice,
        town: "Ledyard",
        weight: 1,
    },
];

/// A unit registered, renamed, then deactivated; it files nothing.
const RETIRED: UnitSeed = UnitSeed {
    ori: "CT0016900",
    name: "Regional Joint Communications Unit",
    kind: UnitKind::Other,
    town: "Windham",
    weight: 0,
};

const OFFICERS: &[&str] = &[
    "Det. A. Rivera",
    "Det. B. Chen",
    "Ofc. C. Okafor",
    "Det. D. Kowalski",
    "Sgt. E. Moreau",
    "Det. F. Haddad",
    "Ofc. G. Lindqvist",
    "Det. H. Nakamura",
    "Sgt. I. Brennan",
    "Det. J. Osei",
    "Ofc. K. Varga",
    "Det. L. Fontaine",
];

const TASK_FORCE_INVESTIGATORS: &[&str] = &[
    "Tpr. M. Alvarez",
    "Det. N. Byrne",
    "Tpr. O. Castellano",
    "Sgt. P. Dube",
    "Tpr. Q. Ellison",
];

const PLATFORMS: &[&str] = &[
    "Example Chat",
    "PhotoShare App",
    "GameLobby Online",
    "ShortVideo App",
    "Anon Board",
    "SocialSite",
];

const PERSONAS: &[&str] = &[
    "skater_girl_14",
    "jess.k.2010",
    "mia_draws",
    "soccerkid13",
    "em1lyy_x",
];

fn add_days(d: Date, days: i64) -> Date {
    d.checked_add(Span::new().days(days)).unwrap_or(d)
}

fn at_local(d: Date, minutes_after_midnight: i64) -> Timestamp {
    let m = minutes_after_midnight.clamp(0, 23 * 60 + 59);
    let time = Time::new((m / 60) as i8, (m % 60) as i8, 0, 0).unwrap_or(Time::midnight());
    d.to_datetime(time)
        .to_zoned(connecticut())
        .map_or(Timestamp::UNIX_EPOCH, |z| z.timestamp())
}

fn after(t: Timestamp, days: i64, rng: &mut SplitMix64) -> Timestamp {
    // A working-hours moment `days` later, and always strictly after `t` so
    // each stream's commands stay in order.
    let candidate = at_local(add_days(ct_date(t), days), rng.between(8 * 60, 18 * 60));
    candidate.max(
        t.checked_add(Span::new().minutes(rng.between(5, 90)))
            .unwrap_or(t),
    )
}

fn statutes_for(t: IncidentType, rng: &mut SplitMix64) -> Vec<StatuteCode> {
    let codes: &[&str] = match t {
        IncidentType::CsamPossession => &["53a-196d", "53a-196e", "53a-196f"],
        IncidentType::CsamDistribution => &["53a-196c", "53a-196d"],
        IncidentType::CsamManufacture => &["53a-196a", "53a-196b", "53-21"],
        IncidentType::OnlineEnticement => &["53a-90a", "53a-90b", "53-21"],
        IncidentType::ChildSexTrafficking => &["53a-192a", "53a-196i", "53a-83b"],
        IncidentType::ChildSexualMolestation => &["53a-70", "53a-71", "53-21"],
        IncidentType::UnsolicitedObsceneMaterialToChild => &["53a-196j", "53-21"],
        _ => &["53-21"],
    };
    let n = 1 + rng.below(codes.len() as u64) as usize;
    codes
        .iter()
        .take(n)
        .filter_map(|c| StatuteCode::parse(*c).ok())
        .collect()
}

struct Script {
    steps: Vec<ScriptedCommand>,
}

impl Script {
    fn push(
        &mut self,
        at: Timestamp,
        aggregate_type: &'static str,
        aggregate_id: impl Into<String>,
        command: DemoCommand,
    ) {
        self.steps.push(ScriptedCommand {
            at,
            aggregate_type,
            aggregate_id: aggregate_id.into(),
            command,
            resolve_position: None,
        });
    }
    fn case(&mut self, at: Timestamp, id: &CaseId, command: CaseCommand) {
        self.push(at, "case", id.as_str(), DemoCommand::Case(command));
    }
}

struct FormSeed<'a> {
    unit: &'a Ori,
    number: &'a UnitCaseNumber,
    received: Timestamp,
    source: Source,
    town: &'a str,
    urgent: bool,
}

// Every draw from `rng` below happens in a fixed order (the demo's determinism tests
// pin the ledger it produces): the helpers draw in the order they are called, and the
// form's fields are evaluated in the order they are written.
fn build_form(seed: FormSeed<'_>, rng: &mut SplitMix64) -> NotificationForm {
    let received_on = ct_date(seed.received);
    let incident_type = draw_incident_type(&seed.source, rng);
    let medium = draw_medium(rng);
    let (date_from, date_to) = draw_incident_dates(received_on, rng);
    let images = rng.below(40) as u32;
    let videos = rng.below(6) as u32;
    let hashes = draw_evidence_hashes(rng);
    let officer = OFFICERS[rng.below(OFFICERS.len() as u64) as usize];
    let platform = PLATFORMS[rng.below(PLATFORMS.len() as u64) as usize];
    let subjects = draw_subjects(seed.received, platform, rng);
    let age_band = AgeBand::ALL[rng.weighted(&[25, 35, 25, 15])];
    let identified = age_band != AgeBand::Unknown && rng.chance(60);
    NotificationForm {
        form_version: FormVersion::V2,
        reporting_unit: seed.unit.clone(),
        officer: draw_officer_contact(officer, rng),
        unit_case_number: seed.number.clone(),
        received: draw_received_when(seed.received, received_on, rng),
        source: seed.source,
        incident: draw_incident(incident_type, (date_from, date_to), rng),
        medium,
        platform: Some(platform.to_string()),
        suspected_statutes: statutes_for(incident_type, rng),
        urgent: seed.urgent,
        subject_identifiers: subjects,
        victim: None,
        victims: vec![Victim {
            identified,
            age_band,
            identified_on: identified.then_some(received_on),
            town: rng
                .chance(50)
                .then(|| RestrictedTown(seed.town.to_string()).into()),
        }],
        evidence: EvidenceSummary {
            item_count: images + videos + rng.below(3) as u32,
            image_count: images,
            video_count: videos,
            hashes,
        },
        deconfliction_checked: rng.chance(90),
        assistance_requested: draw_assistance(rng),
        attestation: Attestation {
            name: officer.into(),
            statement_accepted: true,
        },
    }
}

/// Undercover work is always enticement; otherwise one draw over the usual mix.
fn draw_incident_type(source: &Source, rng: &mut SplitMix64) -> IncidentType {
    match source {
        Source::ProactiveUndercover { .. } => IncidentType::OnlineEnticement,
        _ => {
            let types = [
                IncidentType::CsamPossession,
                IncidentType::CsamDistribution,
                IncidentType::OnlineEnticement,
                IncidentType::CsamManufacture,
                IncidentType::UnsolicitedObsceneMaterialToChild,
                IncidentType::ChildSexTrafficking,
                IncidentType::ChildSexualMolestation,
                IncidentType::MisleadingWordsOrImages,
                IncidentType::Other,
            ];
            types[rng.weighted(&[30, 25, 20, 6, 8, 2, 4, 2, 3])]
        }
    }
}

fn draw_medium(rng: &mut SplitMix64) -> Medium {
    [
        Medium::ChatIm,
        Medium::Web,
        Medium::Gaming,
        Medium::PeerToPeer,
        Medium::Phone,
        Medium::Email,
    ][rng.weighted(&[40, 20, 12, 12, 10, 6])]
}

/// When the incident began (up to 60 days before receipt) and, sometimes, ended
/// (never after receipt).
fn draw_incident_dates(received_on: Date, rng: &mut SplitMix64) -> (Date, Option<Date>) {
    let date_from = add_days(received_on, -rng.between(0, 60));
    let date_to = rng
        .chance(40)
        .then(|| add_days(date_from, rng.between(0, 20)))
        .filter(|d| *d <= received_on);
    (date_from, date_to)
}

/// Up to three hashes, SHA-256 and MD5 in turn.
fn draw_evidence_hashes(rng: &mut SplitMix64) -> Vec<EvidenceHash> {
    (0..rng.below(4))
        .map(|i| {
            if i % 2 == 0 {
                EvidenceHash {
                    algorithm: HashAlgorithm::Sha256,
                    value: rng.hex(64).into(),
                }
            } else {
                EvidenceHash {
                    algorithm: HashAlgorithm::Md5,
                    value: rng.hex(32).into(),
                }
            }
        })
        .collect()
}

/// A screen name on the platform and, half the time, an IP address observed one to
/// thirty days before receipt.
fn draw_subjects(
    received: Timestamp,
    platform: &str,
    rng: &mut SplitMix64,
) -> Vec<SubjectIdentifier> {
    let observed = received
        .checked_sub(Span::new().hours(rng.between(24, 24 * 30)))
        .unwrap_or(received);
    let mut subjects = vec![SubjectIdentifier {
        kind: SubjectIdentifierKind::ScreenName,
        value: format!("user_{}", rng.hex(8)).into(),
        platform: Some(platform.to_string()),
        observed_at: None,
    }];
    if rng.chance(50) {
        subjects.push(SubjectIdentifier {
            kind: SubjectIdentifierKind::IpEvent,
            value: demo_ip(rng.below(1 << 32)).into(),
            platform: None,
            observed_at: Some(observed),
        });
    }
    subjects
}

fn draw_officer_contact(officer: &str, rng: &mut SplitMix64) -> OfficerContact {
    OfficerContact {
        name: officer.into(),
        badge: Some(format!("{}", 100 + rng.below(900)).into()),
        phone: Some(format!("(860) 555-01{:02}", rng.below(100)).into()),
        email: None,
    }
}

fn draw_received_when(
    received: Timestamp,
    received_on: Date,
    rng: &mut SplitMix64,
) -> ReceivedWhen {
    let time = rng
        .chance(70)
        .then(|| received.to_zoned(connecticut()).time());
    ReceivedWhen {
        date: received_on,
        time,
        // Always stated with a time: a receipt on the fall-back night is then
        // never ambiguous.
        utc_offset: time.map(|_| crate::local_time::ct_offset(received)),
    }
}

fn draw_incident(
    incident_type: IncidentType,
    (date_from, date_to): (Date, Option<Date>),
    rng: &mut SplitMix64,
) -> Incident {
    Incident {
        incident_type,
        sextortion: incident_type == IncidentType::OnlineEnticement && rng.chance(35),
        ai_generated_material: rng.chance(6),
        minor_to_minor: rng.chance(10),
        date_from: Some(date_from),
        date_to,
    }
}

fn draw_assistance(rng: &mut SplitMix64) -> AssistanceRequested {
    AssistanceRequested {
        undercover: rng.chance(10),
        forensic: rng.chance(45),
        technical: rng.chance(20),
    }
}

/// Issue 17's flows on a case just triaged, from their own random stream (so the rest
/// of the script is what it was): a cadence of its own for continued sharing, a child
/// identified during the investigation, a child the case learned of later.
fn later_flows(
    s: &mut Script,
    rng: &mut SplitMix64,
    case_id: &CaseId,
    form: &NotificationForm,
    triaged: Timestamp,
) {
    let soon = triaged
        .checked_add(Span::new().minutes(30))
        .unwrap_or(triaged);
    if rng.chance(20) {
        let cadence_days = if rng.chance(50) { 14 } else { 60 };
        s.case(
            soon,
            case_id,
            CaseCommand::SetSharingCadence(crate::case::SetSharingCadence {
                cadence_days,
                recorded_at: soon,
            }),
        );
    }
    if rng.chance(5) {
        let t = soon.checked_add(Span::new().minutes(5)).unwrap_or(soon);
        s.case(
            t,
            case_id,
            CaseCommand::AddVictim(crate::case::AddVictim {
                age_band: AgeBand::ALL[rng.weighted(&[30, 40, 30, 0])],
                identified_on: Some(ct_date(t)),
                recorded_at: t,
            }),
        );
    }
    let unidentified = form.victims.first().is_some_and(|v| !v.identified);
    if unidentified && rng.chance(20) {
        let t = after(triaged, rng.between(10, 90), rng);
        s.case(
            t,
            case_id,
            CaseCommand::IdentifyVictim(crate::case::IdentifyVictim {
                victim_number: 1,
                identified_on: ct_date(t),
                recorded_at: t,
            }),
        );
    }
}

/// Charges filed after an arrest, and for many a final outcome months later.
fn prosecution_flow(s: &mut Script, rng: &mut SplitMix64, case_id: &CaseId, arrested: Timestamp) {
    use crate::case::{ProsecutionOutcome, RecordProsecutionOutcome};
    let filed = after(arrested, rng.between(1, 10), rng);
    s.case(
        filed,
        case_id,
        CaseCommand::RecordProsecutionOutcome(RecordProsecutionOutcome {
            arrest_number: 1,
            outcome: ProsecutionOutcome::ChargesFiled,
            decided_on: ct_date(filed),
            recorded_at: filed,
        }),
    );
    if rng.chance(55) {
        let at = after(filed, rng.between(30, 180), rng);
        let outcome = [
            ProsecutionOutcome::Convicted,
            ProsecutionOutcome::Nolle,
            ProsecutionOutcome::Dismissed,
        ][rng.weighted(&[60, 25, 15])];
        s.case(
            at,
            case_id,
            CaseCommand::RecordProsecutionOutcome(RecordProsecutionOutcome {
                arrest_number: 1,
                outcome,
                decided_on: ct_date(at),
                recorded_at: at,
            }),
        );
    }
}

/// Scripts `cases` notifications (capped at [`MAX_CASES`]) over the year
/// starting at `start`, sorted by time. Commands dated after the year's end
/// are left out, so the last weeks hold pending and overdue notifications.
pub fn generate(cases: usize, seed: u64, start: Date) -> Vec<ScriptedCommand> {
    let cases = cases.min(MAX_CASES);
    let mut rng = SplitMix64::new(seed);
    // Issue 17's flows draw from their own stream: the rest of the script is unchanged.
    let extra = SplitMix64::new(seed ^ 0x1717_1717);
    let mut s = Script { steps: Vec::new() };
    let end = at_local(add_days(start, 365), 0);
    let units = year::register_units(&mut s, start);
    let Ok(tf) = Ori::parse(TASK_FORCE_ORI) else {
        return s.steps;
    };
    let operations = year::plan_operations(&mut s, &mut rng, start, &tf);
    let mut year = year::Year::new(s, rng, extra, start, tf, units, operations);
    for i in 0..cases {
        year.script_case(i);
    }
    year.conclude_operations();
    let mut steps = year.s.steps;
    // Stable sort keeps each stream's own order for equal instants.
    steps.sort_by_key(|c| c.at);
    steps.retain(|c| c.at < end);
    debug_assert!(steps.windows(2).all(|w| w[0].at <= w[1].at));
    steps
}

/// What NCMEC's report of a demo tip says: a priority and incident type as NCMEC
/// assigns them (mostly apparent child pornography), the reporting provider, and a few
/// files with the provider's annotations.
fn ncmec_report(
    tip: &CyberTipNumber,
    made_available: Timestamp,
    rng: &mut SplitMix64,
) -> NcmecReport {
    let priority = [
        NcmecPriority::Level1,
        NcmecPriority::Level2,
        NcmecPriority::Level3,
        NcmecPriority::Informational,
    ][rng.weighted(&[8, 52, 32, 8])];
    let incident_type = [
        NcmecIncidentType::ChildPornography,
        NcmecIncidentType::OnlineEnticementOfChildren,
        NcmecIncidentType::UnsolicitedObsceneMaterialToChild,
        NcmecIncidentType::ChildSexTrafficking,
        NcmecIncidentType::MisleadingWordsOrDigitalImages,
    ][rng.weighted(&[82, 11, 4, 1, 2])];
    let provider = PLATFORMS[rng.below(PLATFORMS.len() as u64) as usize];
    let files = (0..1 + rng.below(4))
        .map(|_| {
            let mut annotations = Vec::new();
            if rng.chance(6) {
                annotations.push(FileAnnotation::GenerativeAi);
            }
            if rng.chance(10) {
                annotations.push(FileAnnotation::Viral);
            }
            if rng.chance(5) {
                annotations.push(FileAnnotation::PossibleSelfProduction);
            }
            TipFile {
                annotations,
                viewed_by_provider: rng.chance(75),
            }
        })
        .collect();
    NcmecReport {
        cybertip_number: tip.clone(),
        priority,
        incident_type,
        reporting_provider: provider.to_string(),
        made_available_on: ct_date(made_available),
        files,
        location: rng.chance(85).then(|| LocationEstimate {
            country: "US".into(),
            region: Some("Connecticut".into()),
            city: None,
        }),
    }
}

/// The Task Force's intake of `tip` for `unit`, which receives it at `received`:
/// NCMEC made it available half a day to four days earlier, the Task Force received
/// and triaged it, disseminated it half an hour before, and the unit acknowledges it.
fn tip_flow(
    s: &mut Script,
    rng: &mut SplitMix64,
    tip: &CyberTipNumber,
    unit: &Ori,
    number: &UnitCaseNumber,
    received: Timestamp,
    start: Date,
) {
    let earliest = at_local(start, 8 * 60);
    let got = received
        .checked_sub(Span::new().hours(rng.between(12, 96)))
        .unwrap_or(received)
        .max(earliest);
    let report = ncmec_report(tip, got, rng);
    let ncmec_priority = report.priority;
    s.push(
        got,
        "ncmec_tip",
        tip.as_str(),
        DemoCommand::Tip(TipCommand::Receive {
            report,
            recorded_at: got,
        }),
    );
    let triaged = got
        .checked_add(Span::new().hours(rng.between(1, 6)))
        .unwrap_or(got);
    // The Task Force mostly keeps NCMEC's priority; sometimes raises it.
    let priority = if rng.chance(10) {
        NcmecPriority::Level1
    } else {
        ncmec_priority
    };
    let disseminated = received
        .checked_sub(Span::new().minutes(30))
        .unwrap_or(received)
        .max(triaged);
    s.push(
        triaged,
        "ncmec_tip",
        tip.as_str(),
        DemoCommand::Tip(TipCommand::Triage {
            priority,
            recorded_at: triaged,
        }),
    );
    s.push(
        disseminated,
        "ncmec_tip",
        tip.as_str(),
        DemoCommand::Tip(TipCommand::Disseminate {
            to_unit: unit.clone(),
            recorded_at: disseminated,
        }),
    );
    s.push(
        received,
        "ncmec_tip",
        tip.as_str(),
        DemoCommand::AcknowledgeTip {
            cybertip_number: tip.clone(),
            unit: unit.clone(),
            unit_case_number: number.clone(),
        },
    );
}

/// A tip that never became a case: informational ones the Task Force keeps, and a few
/// disseminated to a unit that has not acknowledged them (the dashboards' open
/// disseminations).
fn stray_tip(
    s: &mut Script,
    rng: &mut SplitMix64,
    i: usize,
    units: &[(Ori, &UnitSeed)],
    near: Timestamp,
    start: Date,
) {
    let Ok(tip) = CyberTipNumber::parse(format!("{}", 190_000_000 + i as u64)) else {
        return;
    };
    let got = near.max(at_local(start, 8 * 60));
    let report = ncmec_report(&tip, got, rng);
    s.push(
        got,
        "ncmec_tip",
        tip.as_str(),
        DemoCommand::Tip(TipCommand::Receive {
            report,
            recorded_at: got,
        }),
    );
    let triaged = got.checked_add(Span::new().hours(2)).unwrap_or(got);
    let disseminate = rng.chance(60);
    s.push(
        triaged,
        "ncmec_tip",
        tip.as_str(),
        DemoCommand::Tip(TipCommand::Triage {
            priority: if disseminate {
                NcmecPriority::Level3
            } else {
                NcmecPriority::Informational
            },
            recorded_at: triaged,
        }),
    );
    let to = units.get(rng.below(units.len() as u64) as usize);
    if let (true, Some((unit, _))) = (disseminate, to) {
        let at = triaged
            .checked_add(Span::new().hours(20))
            .unwrap_or(triaged);
        s.push(
            at,
            "ncmec_tip",
            tip.as_str(),
            DemoCommand::Tip(TipCommand::Disseminate {
                to_unit: unit.clone(),
                recorded_at: at,
            }),
        );
    }
}

/// A suspect's address from documentation ranges only (never a real host): mostly IPv6
/// (2001:db8::/32, so two cases rarely share one by chance), one in ten IPv4 from the
/// three TEST-NET blocks (762 addresses, so a few do, as carrier-grade NAT makes them).
fn demo_ip(n: u64) -> String {
    if n % 10 == 0 {
        let k = (n / 10) % 762;
        let block = ["192.0.2", "198.51.100", "203.0.113"][(k / 254) as usize];
        format!("{block}.{}", 1 + k % 254)
    } else {
        format!("2001:db8:{:x}:{:x}::1", (n >> 16) & 0xffff, n & 0xffff)
    }
}

/// Screen names kept for [`same_suspect_elsewhere`].
const RECENT_SCREEN_NAMES: usize = 400;

/// One case in twenty holds a screen name a recent case of another unit holds: the same
/// suspect, active in two towns, that deconfliction has to find.
fn same_suspect_elsewhere(
    form: &mut NotificationForm,
    unit: &Ori,
    recent: &mut Vec<(Ori, String)>,
    rng: &mut SplitMix64,
) {
    if rng.chance(5) {
        let elsewhere: Vec<&String> = recent
            .iter()
            .filter(|(u, _)| u != unit)
            .map(|(_, name)| name)
            .collect();
        let pick = elsewhere
            .get(rng.below(elsewhere.len() as u64) as usize)
            .copied();
        if let (Some(name), Some(first)) = (pick, form.subject_identifiers.first_mut()) {
            first.value = name.clone().into();
        }
    }
    if let Some(name) = form
        .subject_identifiers
        .first()
        .and_then(|s| s.value.value())
    {
        recent.push((unit.clone(), name.clone()));
        if recent.len() > RECENT_SCREEN_NAMES {
            recent.remove(0);
        }
    }
}

fn source_tip(source: &Source) -> Option<CyberTipNumber> {
    source.cybertip().cloned()
}

fn status_cmd(
    to: CaseStatus,
    disposition: Option<Disposition>,
    note: Option<&str>,
    at: Timestamp,
) -> CaseCommand {
    CaseCommand::ChangeStatus(ChangeStatus {
        to,
        disposition,
        note: note.map(str::to_string),
        recorded_at: at,
    })
}

/// What a demo member of the public reports: fixed text (no draw from the
/// generator, so every other demo figure stays as it was), sealed like any report.
fn demo_report_content(receipt: &str) -> ReportContent {
    ReportContent {
        description: format!(
            "An adult account kept messaging a young teenager and asked to move to a private app (demo report {receipt})."
        )
        .into(),
        links: vec![format!("demo_account_{}", receipt.len()).into()],
        contact: None,
    }
}
