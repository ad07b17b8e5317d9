//! Signed checkpoint notes (`icac_format::checkpoint`) and proof files (`audit::proofs`) on
//! arbitrary text, against the reference ledger.

use serde_json::Value;

use super::bundle::Reference;
use super::{ensure, Violation};
use crate::audit::proofs::{
    verify_proof, ConsistencyProof, InclusionProof, ProofKeys, CONSISTENCY_FORMAT, INCLUSION_FORMAT,
};
use crate::audit::verify::CheckpointClaim;
use icac_format::canonical::to_canonical_bytes;
use icac_format::chain::Hash32;
use icac_format::checkpoint::{self, Checkpoint, NoteVerifier};

/// A checkpoint body parses only in its one text form; a note verifies with the
/// reference ledger's keys only if it states that ledger's genuine size, root and head
/// (the fuzzer cannot sign); a checkpoint claim and a verifier key parse without
/// panicking, and a verifier key round-trips.
pub fn checkpoint(data: &[u8], reference: &Reference) -> Result<(), Violation> {
    let Ok(text) = std::str::from_utf8(data) else {
        return Ok(());
    };
    if let Ok(cp) = Checkpoint::parse_body(text) {
        let body = cp
            .body()
            .map_err(|e| Violation(format!("parsed checkpoint has no body: {e}")))?;
        ensure(body == text, || {
            format!("checkpoint body {text:?} parses but is written back as {body:?}")
        })?;
    }
    if let Ok(claim) = CheckpointClaim::parse(text, "fuzz input") {
        ensure(claim.body.body().is_ok(), || {
            "a claim parsed into a checkpoint with no valid body".into()
        })?;
    }
    if let Ok(v) = NoteVerifier::from_verifier_key(text) {
        let again = NoteVerifier::from_verifier_key(&v.to_verifier_key())
            .map_err(|e| Violation(format!("verifier key does not round-trip: {e}")))?;
        ensure(
            again.name() == v.name()
                && again.key_id() == v.key_id()
                && again.verifying_key() == v.verifying_key(),
            || "verifier key changes on a round trip".into(),
        )?;
    }
    if let Ok(cp) = checkpoint::parse_and_verify(text, &reference.note_keys()) {
        ensure(reference.is_true(&cp), || {
            format!("a note verified with a false checkpoint: {cp:?}")
        })?;
    }
    Ok(())
}

/// A proof file that verifies (with the reference's keyring or its bare public keys)
/// states only what is true of the reference ledger: the genuine record, hash and
/// signature at its position, and genuine roots at its sizes.
pub fn proof(data: &[u8], reference: &Reference) -> Result<(), Violation> {
    let Ok(text) = std::str::from_utf8(data) else {
        return Ok(());
    };
    let keyrings = [
        ProofKeys::Keyring(reference.keyring().to_vec()),
        ProofKeys::PublicKeys(reference.keys.clone()),
    ];
    for keys in &keyrings {
        // Not understood, or rejected: both fine for arbitrary input.
        let Ok(Ok(outcome)) = verify_proof(text, keys) else {
            continue;
        };
        let value: Value = serde_json::from_str(text)
            .map_err(|e| Violation(format!("accepted proof is not JSON: {e}")))?;
        let format = value
            .get("format")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_owned();
        let lie = |what: String| Violation(format!("accepted {format} proof, but {what}"));
        ensure(
            outcome.ledger_id == reference.ledger_id.as_str()
                && reference.root_at(outcome.checkpoint_size) == Some(outcome.checkpoint_root),
            || lie(format!("its checkpoint is not genuine: {outcome:?}")).0,
        )?;
        match format.as_str() {
            INCLUSION_FORMAT => {
                let p: InclusionProof = serde_json::from_value(value)
                    .map_err(|e| lie(format!("it does not parse again: {e}")))?;
                inclusion_is_true(&p, reference).map_err(lie)?;
            }
            CONSISTENCY_FORMAT => {
                let p: ConsistencyProof = serde_json::from_value(value)
                    .map_err(|e| lie(format!("it does not parse again: {e}")))?;
                ensure(
                    reference.root_at(p.old_size) == Some(p.old_root)
                        && reference.root_at(p.new_size) == Some(p.new_root),
                    || {
                        lie(format!(
                            "its roots are not genuine (sizes {} and {})",
                            p.old_size, p.new_size
                        ))
                        .0
                    },
                )?;
            }
            other => return Err(lie(format!("{other:?} is no proof format"))),
        }
    }
    Ok(())
}

fn inclusion_is_true(p: &InclusionProof, reference: &Reference) -> Result<(), String> {
    let genuine = usize::try_from(p.position)
        .ok()
        .and_then(|i| i.checked_sub(1))
        .and_then(|i| reference.events.get(i))
        .ok_or_else(|| format!("position {} is not in the ledger", p.position))?;
    let Value::Object(mut event) = p.event.clone() else {
        return Err("its event is not an object".into());
    };
    let hash = match event.remove("hash") {
        Some(Value::String(h)) => Hash32::from_hex(&h).map_err(|e| e.to_string())?,
        _ => return Err("its event has no hash".into()),
    };
    let signature = match event.remove("signature") {
        Some(Value::String(s)) => hex::decode(s).map_err(|e| e.to_string())?,
        _ => return Err("its event has no signature".into()),
    };
    let record = to_canonical_bytes(&Value::Object(event)).map_err(|e| e.to_string())?;
    if record != genuine.record || hash != genuine.hash || signature != genuine.signature {
        return Err(format!(
            "its event is not the genuine event at position {}",
            p.position
        ));
    }
    if reference.root_at(p.tree_size).is_none() {
        return Err(format!("tree size {} is beyond the ledger", p.tree_size));
    }
    Ok(())
}
