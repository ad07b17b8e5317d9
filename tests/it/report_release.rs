//! Releases of the annual report end to end through the binary, on demo ledgers of
//! 300 and 2,000 cases at threshold 10: whole quarters only, frozen quarters,
//! revisions, the built-in audit, and an outside analyst's differencing attack
//! (scripts/disclosure_attack.py: SciPy's HiGHS integer programs, no code shared
//! with the suppression) over overlapping, nested and fiscal-against-calendar
//! releases.

use crate::support::slow;

use std::collections::BTreeMap;
use std::path::Path;
use std::process::{Command, Output};

use icac_format::record::LedgerId;
use icac_ledger::ledger::key_file::KeyFile;
use icac_ledger::read_side::annual;
use icac_ledger::storage::Storage;
use icac_projections::report::figures::victim_truth;
use icac_projections::report::{AnnualReport, Parameters};

fn run(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_icac-ledger"))
        .current_dir(dir)
        .env_remove("ICAC_LEDGER_DB")
        .env_remove("ICAC_LEDGER_KEY")
        .env_remove("ICAC_LEDGER_ID")
        .args(args)
        .output()
        .expect("run icac-ledger")
}

fn code(o: &Output) -> i32 {
    o.status.code().unwrap_or(-1)
}

fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

fn size(dir: &Path) -> u64 {
    let o = run(dir, &["status"]);
    let t = text(&o);
    t.lines()
        .find_map(|l| l.trim().strip_prefix("size"))
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or_else(|| panic!("no size in {t}"))
}

fn release(dir: &Path, name: &str, from: &str, to: &str, extra: &[&str]) -> Output {
    let out = format!("releases/{name}.json");
    let mut args = vec![
        "report",
        "annual",
        "--without-recommendation",
        "--release",
        "--from",
        from,
        "--to",
        to,
        "--format",
        "json",
        "--out",
        &out,
    ];
    args.extend_from_slice(extra);
    run(dir, &args)
}

fn read(dir: &Path, name: &str) -> AnnualReport {
    let text = std::fs::read_to_string(dir.join(format!("releases/{name}.json"))).unwrap();
    serde_json::from_str(&text).unwrap()
}

/// The true counts at `position` for the attacker who is told which figures are
/// small, as JSON `{quarter: {band: count}}`.
fn truth_file(dir: &Path, position: u64, from: &str, to: &str) -> String {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let truth = rt.block_on(async {
        let url = format!("sqlite://{}", dir.join("icac-ledger.db").display());
        let storage = Storage::connect(&url).await.unwrap();
        let id = LedgerId::new("ct-icac").unwrap();
        let at = annual::ledger_at(&storage, &id, position).await.unwrap();
        let p = Parameters {
            from: from.parse().unwrap(),
            to: to.parse().unwrap(),
            suppression_threshold: 10,
            protection_width: 10,
            deadline_policy: Default::default(),
        };
        victim_truth(&at.models, &p)
    });
    let bands = ["0-12", "13-15", "16-17", "age not recorded"];
    let map: BTreeMap<String, BTreeMap<String, u64>> = truth
        .into_iter()
        .map(|(q, counts)| {
            let per_band = bands
                .iter()
                .zip(counts)
                .map(|(b, n)| ((*b).to_owned(), n))
                .collect();
            (q.to_string(), per_band)
        })
        .collect();
    let path = dir.join(format!("truth-{position}.json"));
    std::fs::write(&path, serde_json::to_string(&map).unwrap()).unwrap();
    path.display().to_string()
}

fn attacker(dir: &Path, files: &[&str], truth: Option<&str>) -> Output {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/disclosure_attack.py");
    let mut cmd = Command::new("python3");
    cmd.current_dir(dir).arg(script);
    for f in files {
        cmd.arg(format!("releases/{f}.json"));
    }
    if let Some(t) = truth {
        cmd.args(["--truth", t]);
    }
    cmd.output()
        .expect("python3 with numpy and scipy (pip install scipy)")
}

fn demo(cases: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    assert_eq!(code(&run(d, &["init"])), 0);
    let o = run(d, &["demo", "--cases", cases]);
    assert_eq!(code(&o), 0, "{}", text(&o));
    std::fs::create_dir(d.join("releases")).unwrap();
    dir
}

#[test]
fn releases_resist_differencing_on_300_cases() {
    if slow::skip("releases_resist_differencing_on_300_cases") {
        return;
    }
    let dir = demo("300");
    let d = dir.path();
    let head = size(d);
    let early = (head * 3 / 4).to_string();

    // A period not made of whole quarters: refused, naming the quarter; nothing written.
    let o = release(d, "bad", "2025-01-01", "2025-05-31", &[]);
    assert_eq!(code(&o), 1, "{}", text(&o));
    assert!(text(&o).contains("2025-Q2"), "{}", text(&o));
    assert_eq!(size(d), head);

    // Calendar year, fiscal year, the first half and its quarters, all at one position.
    for (name, from, to) in [
        ("cal2025", "2025-01-01", "2025-12-31"),
        ("fy2025", "2024-07-01", "2025-06-30"),
        ("h1", "2025-01-01", "2025-06-30"),
        ("q1", "2025-01-01", "2025-03-31"),
        ("q2", "2025-04-01", "2025-06-30"),
    ] {
        let o = release(d, name, from, to, &["--at-position", &early]);
        assert_eq!(code(&o), 0, "{name}: {}", text(&o));
        let r = read(d, name);
        let stamp = r.release.as_ref().expect("a release stamp");
        assert_eq!(stamp.inclusion_proof["position"], stamp.event_position);
    }
    let after = size(d);
    assert_eq!(after, head + 5);

    // The embedded inclusion proof checks with only the public key, and proves the
    // release event with this release's period and position.
    let key = icac_format::keys::LedgerKey::load(&d.join("icac-ledger.key")).unwrap();
    let public = hex::encode(key.public().as_bytes());
    let fy = read(d, "fy2025");
    let stamp = fy.release.as_ref().unwrap();
    std::fs::write(d.join("proof.json"), stamp.inclusion_proof.to_string()).unwrap();
    let o = run(d, &["verify-proof", "proof.json", "--public-key", &public]);
    assert_eq!(code(&o), 0, "{}", text(&o));
    let event = &stamp.inclusion_proof["event"];
    assert_eq!(event["aggregate_type"], "release");
    assert_eq!(event["event_type"], "ReleasePublished");
    let payload = &event["payload"]["ReleasePublished"];
    assert_eq!(payload["period"]["first"], "2024-Q3");
    assert_eq!(payload["position"], fy.attestation.position);
    assert_eq!(payload["number"], stamp.number);

    // Something is actually hidden, and the attacker has work to do.
    let cal = read(d, "cal2025");
    let hidden = serde_json::to_string(&cal.figures.victims_identified).unwrap();
    assert!(hidden.contains("suppressed"), "{hidden}");
    assert!(!cal.is_draft());

    // The same quarters at a later position, where their counts moved: refused.
    let o = release(d, "late", "2025-04-01", "2025-06-30", &[]);
    assert_eq!(code(&o), 1, "{}", text(&o));
    assert!(
        text(&o).contains("2025-Q2") && text(&o).contains("frozen"),
        "{}",
        text(&o)
    );
    assert_eq!(size(d), after);
    // The same period and position twice: refused by the release aggregate.
    let o = release(
        d,
        "again",
        "2025-01-01",
        "2025-03-31",
        &["--at-position", &early],
    );
    assert_eq!(code(&o), 1, "{}", text(&o));
    assert_eq!(size(d), after);

    // The outside analyst, with every release and even the true counts (to grant the
    // reader who knows which figures are small): no hidden figure narrowed below 10 values
    // (5 for the readers told which figures are small).
    let all = ["cal2025", "fy2025", "h1", "q1", "q2"];
    let truth_early = truth_file(d, early.parse().unwrap(), "2024-07-01", "2025-12-31");
    let o = attacker(d, &all, Some(&truth_early));
    assert_eq!(code(&o), 0, "{}", text(&o));
    assert!(text(&o).contains("knows_small"), "{}", text(&o));
    // The built-in audit agrees.
    let o = run(
        d,
        &[
            "report",
            "audit",
            "releases/q2.json",
            "--against",
            "releases",
        ],
    );
    assert_eq!(code(&o), 0, "{}", text(&o));
    // Every release recomputes exactly, its earlier releases included.
    for name in all {
        let o = run(d, &["report", "verify", &format!("releases/{name}.json")]);
        assert_eq!(code(&o), 0, "{name}: {}", text(&o));
    }

    // The attacker is not toothless: reveal every hidden figure of one release but one
    // of its cells, and that cell is derived exactly from the margins.
    let mut leaky: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(d.join("releases/cal2025.json")).unwrap())
            .unwrap();
    let truth: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&truth_early).unwrap()).unwrap();
    let v = &mut leaky["figures"]["victims_identified"];
    let columns: Vec<String> = serde_json::from_value(v["columns"].clone()).unwrap();
    let rows: Vec<String> = serde_json::from_value(v["rows"].clone()).unwrap();
    let mut kept = None;
    for (b, band) in rows.iter().enumerate() {
        for (q, quarter) in columns.iter().enumerate() {
            if v["cells"][b][q] == "suppressed" {
                if kept.is_none() {
                    kept = Some(format!("{quarter}, age {band}"));
                } else {
                    v["cells"][b][q] = truth[quarter][band].clone();
                }
            }
        }
    }
    let kept = kept.expect("a hidden cell");
    std::fs::write(d.join("releases/leaky.json"), leaky.to_string()).unwrap();
    let o = attacker(d, &["leaky"], None);
    assert_eq!(code(&o), 1, "{}", text(&o));
    assert!(
        text(&o).contains(&format!("DERIVED {kept}")),
        "{}",
        text(&o)
    );
    std::fs::remove_file(d.join("releases/leaky.json")).unwrap();

    // A declared revision at the head passes the audit against everything public.
    let o = release(
        d,
        "cal2025-rev",
        "2025-01-01",
        "2025-12-31",
        &["--revision", "late filings"],
    );
    assert_eq!(code(&o), 0, "{}", text(&o));
    let rev = read(d, "cal2025-rev");
    assert!(!rev.release.as_ref().unwrap().revises.is_empty());
    let o = run(
        d,
        &[
            "report",
            "audit",
            "releases/cal2025-rev.json",
            "--against",
            "releases",
        ],
    );
    assert_eq!(code(&o), 0, "{}", text(&o));

    // Drafts are watermarked in every format.
    let o = run(
        d,
        &[
            "report",
            "annual",
            "--without-recommendation",
            "--from",
            "2025-01-15",
            "--to",
            "2025-05-31",
            "--format",
            "md",
            "--out",
            "draft.md",
        ],
    );
    assert_eq!(code(&o), 0, "{}", text(&o));
    let md = std::fs::read_to_string(d.join("draft.md")).unwrap();
    assert!(md.contains("DRAFT"), "{md}");
    let o = run(
        d,
        &[
            "report",
            "render",
            "releases/cal2025.json",
            "--format",
            "html",
            "--out",
            "cal.html",
        ],
    );
    assert_eq!(code(&o), 0, "{}", text(&o));
    let html = std::fs::read_to_string(d.join("cal.html")).unwrap();
    assert!(!html.contains("DRAFT") && html.contains("Release 1 of 2025-Q1..2025-Q4"));
    assert!(html.contains("Percent on time of those due"));
}

#[test]
fn releases_resist_differencing_on_2000_cases() {
    if slow::skip("releases_resist_differencing_on_2000_cases") {
        return;
    }
    let dir = demo("2000");
    let d = dir.path();
    let position = size(d).to_string();
    for (name, from, to) in [
        ("cal2025", "2025-01-01", "2025-12-31"),
        ("fy2025", "2024-07-01", "2025-06-30"),
        ("q2", "2025-04-01", "2025-06-30"),
    ] {
        let o = release(d, name, from, to, &["--at-position", &position]);
        assert_eq!(code(&o), 0, "{name}: {}", text(&o));
    }
    let truth = truth_file(d, position.parse().unwrap(), "2024-07-01", "2025-12-31");
    let o = attacker(d, &["cal2025", "fy2025", "q2"], Some(&truth));
    assert_eq!(code(&o), 0, "{}", text(&o));
    let o = run(
        d,
        &[
            "report",
            "audit",
            "releases/q2.json",
            "--against",
            "releases",
        ],
    );
    assert_eq!(code(&o), 0, "{}", text(&o));
    // Shown statutory figures match a recomputation from the ledger.
    let o = run(d, &["report", "verify", "releases/fy2025.json"]);
    assert_eq!(code(&o), 0, "{}", text(&o));
}
