//! Loading old events with new code.
//!
//! Every event carries `event_version`. When a payload changes shape, the
//! event type's version is bumped and a step `(aggregate_type, event_type,
//! from_version) → to_version` is added here; stored events are never
//! rewritten (they are hashed into the ledger), they are upcast on load.
//! Steps chain, so a v1 event passes v1→v2→v3. Today every event is at
//! version 1 and [`Upcaster::current`] has no steps; the tests show a v1
//! `NotificationFiled` loaded by a hypothetical form version 2.
//!
//! Payloads are as cqrs-es stores them: the externally tagged enum, e.g.
//! `{"NotificationFiled": {...}}`; [`map_variant`] reaches inside.

use cqrs_es::persist::{EventUpcaster, SerializedEvent};
use serde_json::Value;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum UpcastError {
    #[error("{event_type} payload is not shaped as expected for version {version}: {problem}")]
    Shape {
        event_type: String,
        version: String,
        problem: String,
    },
    #[error("{event_type} version {version} has no upcast path (loop or gap in steps)")]
    NoPath { event_type: String, version: String },
}

/// One transformation from one version of one event type to the next.
#[derive(Clone, Copy)]
pub struct UpcastStep {
    pub aggregate_type: &'static str,
    pub event_type: &'static str,
    pub from_version: &'static str,
    pub to_version: &'static str,
    pub transform: fn(Value) -> Result<Value, UpcastError>,
}

impl std::fmt::Debug for UpcastStep {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{}/{} v{}→v{}",
            self.aggregate_type, self.event_type, self.from_version, self.to_version
        )
    }
}

/// A chain of steps.
#[derive(Debug, Clone, Default)]
pub struct Upcaster {
    steps: Vec<UpcastStep>,
}

/// Longest chain followed before giving up (guards against a cycle).
const MAX_CHAIN: usize = 64;

impl Upcaster {
    /// The production chain.
    pub fn current() -> Self {
        Self { steps: Vec::new() }
    }

    pub fn with_steps(steps: Vec<UpcastStep>) -> Self {
        Self { steps }
    }

    pub fn steps(&self) -> &[UpcastStep] {
        &self.steps
    }

    /// Brings a payload to the newest version known; returns that version.
    pub fn upcast(
        &self,
        aggregate_type: &str,
        event_type: &str,
        event_version: &str,
        payload: Value,
    ) -> Result<(String, Value), UpcastError> {
        let mut version = event_version.to_string();
        let mut payload = payload;
        for _ in 0..MAX_CHAIN {
            let step = self.steps.iter().find(|s| {
                s.aggregate_type == aggregate_type
                    && s.event_type == event_type
                    && s.from_version == version
            });
            match step {
                None => return Ok((version, payload)),
                Some(s) => {
                    payload = (s.transform)(payload)?;
                    version = s.to_version.to_string();
                }
            }
        }
        Err(UpcastError::NoPath {
            event_type: event_type.to_string(),
            version,
        })
    }

    /// Adapters for cqrs-es repositories (`with_upcasters`).
    pub fn into_cqrs_upcasters(self) -> Vec<Box<dyn EventUpcaster>> {
        self.steps
            .into_iter()
            .map(|s| Box::new(s) as Box<dyn EventUpcaster>)
            .collect()
    }
}

/// The pure entry point: upcast with the production chain.
pub fn upcast(
    aggregate_type: &str,
    event_type: &str,
    event_version: &str,
    payload: Value,
) -> Result<(String, Value), UpcastError> {
    Upcaster::current().upcast(aggregate_type, event_type, event_version, payload)
}

impl EventUpcaster for UpcastStep {
    fn can_upcast(&self, event_type: &str, event_version: &str) -> bool {
        self.event_type == event_type && self.from_version == event_version
    }

    fn upcast(&self, event: SerializedEvent) -> SerializedEvent {
        if event.aggregate_type != self.aggregate_type {
            return event;
        }
        match (self.transform)(event.payload.clone()) {
            Ok(payload) => SerializedEvent {
                event_version: self.to_version.to_string(),
                payload,
                ..event
            },
            // Leave the event untouched: deserializing it then fails loudly
            // with the stored payload, which is the honest outcome.
            Err(_) => event,
        }
    }
}

/// Notification form version 1 in the shape of version 2, on the raw JSON of a form
/// a filer sent (after validation): `form_version` becomes "2" and the one `victim`
/// a list of one. The date identified stays unknown (a version 1 form did not ask);
/// the projections count such a child in the period of the filing.
pub fn raw_form_v1_to_v2(raw: &mut Value) {
    let Some(m) = raw.as_object_mut() else {
        return;
    };
    if m.get("form_version").and_then(Value::as_str) != Some("1") {
        return;
    }
    m.insert("form_version".into(), Value::String("2".into()));
    if let Some(victim) = m.remove("victim") {
        m.insert("victims".into(), Value::Array(vec![victim]));
    }
}

/// The same step on a typed form, for version 1 forms recorded before version 2
/// existed: their bytes stay in the ledger as they were hashed, and the case state
/// and views see the version 2 shape. Idempotent.
pub fn form_v1_to_v2(form: &mut crate::form::NotificationForm) {
    if let Some(victim) = form.victim.take() {
        form.victims.insert(0, victim);
    }
    form.form_version = crate::form::v1::FormVersion::V2;
}

/// Applies `f` to the inner object of an externally tagged event payload.
pub fn map_variant(
    payload: Value,
    event_type: &str,
    version: &str,
    f: impl FnOnce(&mut serde_json::Map<String, Value>) -> Result<(), String>,
) -> Result<Value, UpcastError> {
    let shape = |problem: String| UpcastError::Shape {
        event_type: event_type.to_string(),
        version: version.to_string(),
        problem,
    };
    let mut payload = payload;
    let inner = payload
        .get_mut(event_type)
        .and_then(Value::as_object_mut)
        .ok_or_else(|| shape(format!("expected an object under `{event_type}`")))?;
    f(inner).map_err(shape)?;
    Ok(payload)
}
