//! The verification benchmark: a fast data generator through the real append path, raw
//! `verify_batch` throughput on this machine, and peak memory. Run by
//! `icac-ledger bench verify`; never part of the test suite.

use std::sync::Arc;
use std::time::Instant;

use ed25519_dalek::{Signature, Signer, SigningKey, VerifyingKey};
use rayon::prelude::*;
use serde_json::json;

use super::verify::CHUNK;
use super::AuditError;
use crate::ledger::record::StreamId;
use crate::ledger::sequencer::{AppendRequest, NewEvent, RequestContext, MAX_EVENTS_PER_REQUEST};
use crate::ledger::Ledger;

/// Appends `events` events of about `payload_bytes` each, from `tasks` concurrent tasks,
/// `per_request` events per append (each task owns its streams, so there are no
/// conflicts). Returns events per second.
pub async fn generate(
    ledger: &Ledger,
    events: u64,
    tasks: usize,
    per_request: usize,
    payload_bytes: usize,
) -> Result<f64, AuditError> {
    let tasks = tasks.max(1);
    let per_request = per_request.clamp(1, MAX_EVENTS_PER_REQUEST);
    let filler = "x".repeat(payload_bytes.saturating_sub(200));
    let filler = Arc::new(filler);
    let started = Instant::now();
    let per_task = events.div_ceil(tasks as u64);
    let mut handles = Vec::new();
    for t in 0..tasks {
        let ledger = ledger.clone();
        let filler = filler.clone();
        let quota = per_task.min(events.saturating_sub(per_task * t as u64));
        handles.push(tokio::spawn(async move {
            let mut done = 0u64;
            let mut stream_no = 0u64;
            while done < quota {
                // A stream per request batch keeps streams realistic (tens of events).
                let stream = StreamId::new("case", &format!("BENCH-{t}-{stream_no}"));
                stream_no += 1;
                let n = (per_request as u64).min(quota - done) as usize;
                let request = AppendRequest {
                    stream,
                    expected_sequence: 0,
                    events: (0..n)
                        .map(|i| NewEvent {
                            event_type: "BenchEventRecorded".into(),
                            event_version: "1".into(),
                            payload: json!({"i": i, "task": t, "note": filler.as_str()}),
                        })
                        .collect(),
                    context: RequestContext {
                        principal: "bench:generator".into(),
                        unit: Some("CT0000000".into()),
                        request_id: format!("bench-{t}-{stream_no}"),
                        correlation_id: None,
                    },
                };
                ledger
                    .append(request)
                    .await
                    .map_err(|e| AuditError::invalid(format!("append: {e}")))?;
                done += n as u64;
            }
            Ok::<u64, AuditError>(done)
        }));
    }
    let mut total = 0u64;
    for h in handles {
        total += h.await.map_err(|e| AuditError::Worker(e.to_string()))??;
    }
    Ok(total as f64 / started.elapsed().as_secs_f64().max(1e-9))
}

/// Raw ed25519-dalek `verify_batch` throughput with the verifier's chunking on all
/// rayon threads: the ceiling `verify` is compared with. Returns signatures per second.
pub fn raw_batch_throughput(signatures: usize) -> f64 {
    let key = SigningKey::from_bytes(&[7u8; 32]);
    let vk: VerifyingKey = key.verifying_key();
    let msgs: Vec<[u8; 32]> = (0..signatures)
        .map(|i| {
            let mut m = [0u8; 32];
            m[..8].copy_from_slice(&(i as u64).to_le_bytes());
            m
        })
        .collect();
    let sigs: Vec<Signature> = msgs.par_iter().map(|m| key.sign(m)).collect();
    let started = Instant::now();
    let ok = msgs
        .par_chunks(CHUNK)
        .zip(sigs.par_chunks(CHUNK))
        .all(|(m, s)| {
            let refs: Vec<&[u8]> = m.iter().map(|x| x.as_slice()).collect();
            let keys = vec![vk; m.len()];
            ed25519_dalek::verify_batch(&refs, s, &keys).is_ok()
        });
    let elapsed = started.elapsed().as_secs_f64().max(1e-9);
    if !ok {
        return 0.0;
    }
    signatures as f64 / elapsed
}

/// Peak resident memory of this process (Linux `VmHWM`), in MiB.
pub fn peak_rss_mib() -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kb: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb / 1024.0)
}

/// The 1, 5 and 15-minute load averages (`/proc/loadavg`): other work on the machine
/// depresses absolute figures, so benchmarks record it next to them.
pub fn load_average() -> Option<String> {
    let text = std::fs::read_to_string("/proc/loadavg").ok()?;
    Some(text.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
}
