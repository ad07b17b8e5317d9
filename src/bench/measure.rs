//! The verification benchmark: a fast data generator through the real append path, raw
//! `verify_batch` throughput on this machine, and peak memory. Run by
//! `icac-ledger bench verify`; never part of the test suite.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Instant;

use ed25519_dalek::{Signature, Signer, SigningKey, VerifyingKey};
use rayon::prelude::*;
use serde_json::json;

use crate::audit::verify::CHUNK;
use crate::audit::AuditError;
use crate::ledger::sequencer::{AppendRequest, NewEvent, RequestContext, MAX_EVENTS_PER_REQUEST};
use crate::ledger::Ledger;
use icac_format::record::StreamId;

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
                            openings: Vec::new(),
                            erases: Vec::new(),
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
/// rayon threads: the ceiling `verify` is compared with.
pub fn raw_batch_throughput(signatures: usize) -> RawBatch {
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
    let cpu_before = process_cpu_seconds();
    let started = Instant::now();
    let ok = msgs
        .par_chunks(CHUNK)
        .zip(sigs.par_chunks(CHUNK))
        .all(|(m, s)| {
            let refs: Vec<&[u8]> = m.iter().map(<[u8; 32]>::as_slice).collect();
            let keys = vec![vk; m.len()];
            ed25519_dalek::verify_batch(&refs, s, &keys).is_ok()
        });
    let elapsed = started.elapsed().as_secs_f64().max(1e-9);
    let cpu = process_cpu_seconds()
        .zip(cpu_before)
        .map(|(after, before)| after - before);
    RawBatch {
        signatures_per_second: if ok { signatures as f64 / elapsed } else { 0.0 },
        cpu_seconds: cpu,
    }
}

/// What the raw `verify_batch` measurement found.
pub struct RawBatch {
    pub signatures_per_second: f64,
    /// CPU time of the measurement itself (not of making the signatures).
    pub cpu_seconds: Option<f64>,
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
    Some(
        text.split_whitespace()
            .take(3)
            .collect::<Vec<_>>()
            .join(" "),
    )
}

/// CPU time (user + system) this process has used, in seconds (`/proc/self/stat`).
pub fn process_cpu_seconds() -> Option<f64> {
    cpu_seconds_of("/proc/self/stat")
}

fn cpu_seconds_of(stat_path: &str) -> Option<f64> {
    let stat = std::fs::read_to_string(stat_path).ok()?;
    // Fields after the command name (which may hold spaces) start at its closing ')'.
    let rest = &stat[stat.rfind(')')? + 2..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let utime: f64 = fields.get(11)?.parse().ok()?;
    let stime: f64 = fields.get(12)?.parse().ok()?;
    // The kernel reports clock ticks; USER_HZ is 100 on Linux.
    Some((utime + stime) / 100.0)
}

/// Samples the CPU time of the PostgreSQL backends serving `database` (found by their
/// process title, `postgres: USER DATABASE ...`) until stopped, so a benchmark can report
/// what the server spent next to what the client spent. Works only when the server runs
/// on this machine.
pub struct BackendCpu {
    before: HashMap<u32, f64>,
    stop: Arc<AtomicBool>,
    handle: std::thread::JoinHandle<(HashMap<u32, f64>, Option<f64>)>,
}

fn backends_cpu(needle: &str) -> HashMap<u32, f64> {
    let mut seen = HashMap::new();
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return seen;
    };
    for entry in dir.flatten() {
        let Some(pid) = entry.file_name().to_str().and_then(|s| s.parse().ok()) else {
            continue;
        };
        let path = entry.path();
        let title = std::fs::read(path.join("cmdline")).unwrap_or_default();
        let title = String::from_utf8_lossy(&title);
        if title.starts_with("postgres: ") && title.contains(needle) {
            if let Some(cpu) = path.join("stat").to_str().and_then(cpu_seconds_of) {
                seen.insert(pid, cpu);
            }
        }
    }
    seen
}

impl BackendCpu {
    pub fn start(database: &str) -> Self {
        let needle = format!(" {database} ");
        let before = backends_cpu(&needle);
        let stop = Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        let handle = std::thread::spawn(move || {
            let mut seen = HashMap::new();
            loop {
                let last = flag.load(Ordering::Relaxed);
                // A backend that exits is kept at its last sample (up to 100 ms short).
                seen.extend(backends_cpu(&needle));
                if last {
                    // Its own CPU time, which the caller takes off the process's.
                    return (seen, cpu_seconds_of("/proc/thread-self/stat"));
                }
                std::thread::sleep(std::time::Duration::from_millis(100));
            }
        });
        Self {
            before,
            stop,
            handle,
        }
    }

    /// CPU seconds the backends used since `start`, and the sampler's own CPU seconds.
    pub fn finish(self) -> (Option<f64>, Option<f64>) {
        self.stop.store(true, Ordering::Relaxed);
        let Ok((seen, own)) = self.handle.join() else {
            return (None, None);
        };
        let total: f64 = seen
            .iter()
            .map(|(pid, cpu)| cpu - self.before.get(pid).copied().unwrap_or(0.0))
            .sum();
        ((!seen.is_empty()).then_some(total), own)
    }
}
