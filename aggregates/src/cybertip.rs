//! Deconfliction of NCMEC CyberTips.
//!
//! One tiny stream per CyberTip number. `Claim` succeeds once; because the
//! event store gives optimistic concurrency per stream, two units claiming
//! the same tip at the same moment produce one winner and one conflict, and
//! the loser's retry sees `AlreadyClaimed` with the winning case. No
//! projection lag can let a tip be filed twice as two cases.

use cqrs_es::event_sink::EventSink;
use cqrs_es::{Aggregate, DomainEvent};
use jiff::Timestamp;
use serde::{Deserialize, Serialize};

use crate::ids::{CaseId, CyberTipNumber, Ori};
use crate::text::{self, limits, TextError};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CyberTipCommand {
    /// Reserve the tip for `case_id`. Idempotent for the same case.
    Claim {
        cybertip_number: CyberTipNumber,
        case_id: CaseId,
        claimed_by: Ori,
        recorded_at: Timestamp,
    },
    /// Undo a claim whose notification could not be filed.
    Release {
        case_id: CaseId,
        reason: String,
        recorded_at: Timestamp,
    },
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum CyberTipEvent {
    CyberTipClaimed {
        cybertip_number: CyberTipNumber,
        case_id: CaseId,
        claimed_by: Ori,
        recorded_at: Timestamp,
    },
    CyberTipReleased {
        case_id: CaseId,
        reason: String,
        recorded_at: Timestamp,
    },
}

impl crate::sealed::SealedEffects for CyberTipEvent {}

impl DomainEvent for CyberTipEvent {
    fn event_type(&self) -> String {
        match self {
            Self::CyberTipClaimed { .. } => "CyberTipClaimed",
            Self::CyberTipReleased { .. } => "CyberTipReleased",
        }
        .to_string()
    }
    fn event_version(&self) -> String {
        crate::EVENT_VERSION_1.to_string()
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, strum::IntoStaticStr)]
#[strum(serialize_all = "snake_case")]
pub enum CyberTipError {
    /// Not a failure of the system: the app links the notification to `case_id`.
    #[error("CyberTip {cybertip_number} is already held by case {case_id}")]
    AlreadyClaimed {
        cybertip_number: CyberTipNumber,
        case_id: CaseId,
    },
    #[error("CyberTip is not claimed")]
    NotClaimed,
    #[error("CyberTip is held by case {holder}, not {requested}")]
    HeldByOtherCase { holder: CaseId, requested: CaseId },
    #[error("reason {0}")]
    InvalidReason(TextError),
}

/// What the app should do after a claim attempt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ClaimOutcome {
    /// This case holds the tip: file the notification on it.
    FileOnOwnCase,
    /// Another case holds it: link the notification to that case.
    LinkToExisting(CaseId),
}

impl ClaimOutcome {
    /// Interprets the result of executing `Claim` (the user error only; a
    /// store conflict should be retried by the app first).
    pub fn from_result(result: Result<(), &CyberTipError>) -> Result<ClaimOutcome, CyberTipError> {
        match result {
            Ok(()) => Ok(ClaimOutcome::FileOnOwnCase),
            Err(CyberTipError::AlreadyClaimed { case_id, .. }) => {
                Ok(ClaimOutcome::LinkToExisting(case_id.clone()))
            }
            Err(other) => Err(other.clone()),
        }
    }
}

/// State of one CyberTip stream.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CyberTip {
    pub cybertip_number: Option<CyberTipNumber>,
    pub holder: Option<CaseId>,
    pub claims: u32,
    /// When the standing claim was made.
    #[serde(default)]
    pub claimed_at: Option<Timestamp>,
}

/// How long a claim may stand while its case holds no notification before another
/// filing may take the tip over. A filing claims and then files within one request
/// (well under a minute, retries included); a claim this old whose case never got its
/// notification belongs to a filing that failed between its two writes (a database
/// outage) and could not release the claim either.
pub const STRANDED_AFTER: jiff::SignedDuration = jiff::SignedDuration::from_secs(5 * 60);

impl CyberTip {
    /// Whether the standing claim is stranded at `now`: its case (`holder_filed`
    /// says whether that case holds its notification) never filed, and the claim is
    /// older than [`STRANDED_AFTER`]. Such a claim may be released by any filing of
    /// the same tip, which then claims it for itself.
    pub fn is_stranded(&self, holder_filed: bool, now: Timestamp) -> bool {
        match (&self.holder, self.claimed_at) {
            (Some(_), Some(at)) => !holder_filed && now.duration_since(at) >= STRANDED_AFTER,
            _ => false,
        }
    }

    pub fn decide(&self, command: CyberTipCommand) -> Result<Vec<CyberTipEvent>, CyberTipError> {
        match command {
            CyberTipCommand::Claim {
                cybertip_number,
                case_id,
                claimed_by,
                recorded_at,
            } => match &self.holder {
                Some(holder) if *holder == case_id => Ok(vec![]),
                Some(holder) => Err(CyberTipError::AlreadyClaimed {
                    cybertip_number,
                    case_id: holder.clone(),
                }),
                None => Ok(vec![CyberTipEvent::CyberTipClaimed {
                    cybertip_number,
                    case_id,
                    claimed_by,
                    recorded_at,
                }]),
            },
            CyberTipCommand::Release {
                case_id,
                reason,
                recorded_at,
            } => {
                text::check(&reason, limits::REASON).map_err(CyberTipError::InvalidReason)?;
                match &self.holder {
                    None => Err(CyberTipError::NotClaimed),
                    Some(holder) if *holder != case_id => Err(CyberTipError::HeldByOtherCase {
                        holder: holder.clone(),
                        requested: case_id,
                    }),
                    Some(_) => Ok(vec![CyberTipEvent::CyberTipReleased {
                        case_id,
                        reason,
                        recorded_at,
                    }]),
                }
            }
        }
    }
}

impl Aggregate for CyberTip {
    const TYPE: &'static str = "cybertip";
    type Command = CyberTipCommand;
    type Event = CyberTipEvent;
    type Error = CyberTipError;
    type Services = ();

    async fn handle(
        &mut self,
        command: Self::Command,
        _: &Self::Services,
        sink: &EventSink<Self>,
    ) -> Result<(), Self::Error> {
        for event in self.decide(command)? {
            sink.write(event, self).await;
        }
        Ok(())
    }

    fn apply(&mut self, event: Self::Event) {
        match event {
            CyberTipEvent::CyberTipClaimed {
                cybertip_number,
                case_id,
                recorded_at,
                ..
            } => {
                self.cybertip_number = Some(cybertip_number);
                self.holder = Some(case_id);
                self.claims += 1;
                self.claimed_at = Some(recorded_at);
            }
            CyberTipEvent::CyberTipReleased { .. } => {
                self.holder = None;
                self.claimed_at = None;
            }
        }
    }
}

/// The orchestration of a filing, as pure functions so the app side is a
/// short loop: see `docs/DOMAIN.md`, "Deconfliction".
pub mod filing {
    use jiff::Timestamp;

    use super::{ClaimOutcome, CyberTipCommand};
    use crate::case::{CaseCommand, FileNotification, LinkDuplicateNotification, MergeIntoCase};
    use crate::form::NotificationForm;
    use crate::ids::CaseId;

    /// Step 2: the claim to execute on stream `aggregate_id` (the CyberTip
    /// number) before filing, or `None` when the form has no CyberTip.
    pub fn claim(
        case_id: &CaseId,
        form: &NotificationForm,
        recorded_at: Timestamp,
    ) -> Option<(String, CyberTipCommand)> {
        let tip = form.source.cybertip()?;
        Some((
            tip.to_string(),
            CyberTipCommand::Claim {
                cybertip_number: tip.clone(),
                case_id: case_id.clone(),
                claimed_by: form.reporting_unit.clone(),
                recorded_at,
            },
        ))
    }

    /// Step 3: the case commands to execute, in order, given the claim's
    /// outcome. `own_case_opened`: the filer's case stream already holds a
    /// logged complaint (it is then merged into the primary case).
    pub fn case_commands(
        case_id: CaseId,
        form: NotificationForm,
        recorded_at: Timestamp,
        outcome: ClaimOutcome,
        own_case_opened: bool,
    ) -> Vec<(CaseId, CaseCommand)> {
        match outcome {
            ClaimOutcome::FileOnOwnCase => vec![(
                case_id.clone(),
                CaseCommand::FileNotification(FileNotification {
                    case_id,
                    form,
                    recorded_at,
                }),
            )],
            ClaimOutcome::LinkToExisting(primary) => {
                let mut out = vec![(
                    primary.clone(),
                    CaseCommand::LinkDuplicateNotification(LinkDuplicateNotification {
                        form,
                        from_case_id: own_case_opened.then(|| case_id.clone()),
                        recorded_at,
                    }),
                )];
                if own_case_opened {
                    out.push((
                        case_id,
                        CaseCommand::MergeIntoCase(MergeIntoCase {
                            primary_case_id: primary,
                            recorded_at,
                        }),
                    ));
                }
                out
            }
        }
    }
}

impl crate::text::BlamesField for CyberTipError {
    fn rule(&self) -> &'static str {
        self.into()
    }

    fn blamed_field(&self) -> Option<&'static str> {
        match self {
            CyberTipError::InvalidReason(_) => Some("reason"),
            _ => None,
        }
    }
}
