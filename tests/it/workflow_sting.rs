//! The report's sting-unit section through the binary: publishing without a
//! recommendation needs `--without-recommendation`; the section's figures, and the
//! operation rows, are recomputed from the ledger export by an independent script
//! (tests/independent/recompute_sting.py), which also catches a changed figure.

use crate::support::slow;

use std::path::Path;
use std::process::{Command, Output};

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

fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

fn recompute(dir: &Path, report: &str) -> Output {
    let script = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/independent/recompute_sting.py"
    );
    Command::new("python3")
        .current_dir(dir)
        .args([script, "b.jsonl", report])
        .output()
        .expect("python3 is needed for the independent check")
}

#[test]
fn sting_unit_section_recomputed_independently() {
    if slow::skip("sting_unit_section_recomputed_independently") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    for args in [&["init"][..], &["demo", "--cases", "300"][..]] {
        let o = run(d, args);
        assert_eq!(o.status.code(), Some(0), "{args:?}: {}", text(&o));
    }
    let period = [
        "report",
        "annual",
        "--from",
        "2024-07-01",
        "--to",
        "2026-06-30",
        "--format",
        "json",
    ];
    let o = run(d, &[&period[..], &["--out", "r.json"]].concat());
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(
        text(&o).contains("--without-recommendation"),
        "{}",
        text(&o)
    );
    assert!(!d.join("r.json").exists());

    let o = run(
        d,
        &[
            &period[..],
            &["--without-recommendation", "--out", "r.json"],
        ]
        .concat(),
    );
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    std::fs::write(
        d.join("rec.txt"),
        "Extend the unit: see the quarterly figures.\n",
    )
    .unwrap();
    let o = run(
        d,
        &[
            &period[..],
            &["--recommendation", "rec.txt", "--out", "with.json"],
        ]
        .concat(),
    );
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    // Every format shows the section, and the Markdown edition the recommendation
    // next to it.
    let md_period: Vec<&str> = period
        .iter()
        .map(|a| if *a == "json" { "md" } else { a })
        .collect();
    let o = run(
        d,
        &[
            &md_period[..],
            &["--recommendation", "rec.txt", "--out", "with.md"],
        ]
        .concat(),
    );
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let md = std::fs::read_to_string(d.join("with.md")).unwrap();
    assert!(
        md.contains("Investigative (sting) unit since") && md.contains("| Total |"),
        "{md}"
    );
    assert!(
        md.contains("Extend the unit: see the quarterly figures."),
        "{md}"
    );
    let o = run(d, &["export", "--out", "b.jsonl"]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));

    let report: serde_json::Value =
        serde_json::from_slice(&std::fs::read(d.join("r.json")).unwrap()).unwrap();
    let section = &report["sting_unit"];
    assert_eq!(
        section["published_without_recommendation"],
        serde_json::json!(true)
    );
    assert_eq!(
        section["quarters"].as_array().unwrap().len(),
        8,
        "{section}"
    );
    assert!(
        section["totals"]["operations_conducted"].as_u64().unwrap() > 0,
        "{section}"
    );
    let with: serde_json::Value =
        serde_json::from_slice(&std::fs::read(d.join("with.json")).unwrap()).unwrap();
    assert_eq!(
        with["sting_unit"]["recommendation"],
        serde_json::json!("Extend the unit: see the quarterly figures.")
    );

    for file in ["r.json", "with.json"] {
        let o = recompute(d, file);
        assert_eq!(o.status.code(), Some(0), "{file}: {}", text(&o));
    }
    // The script is not a rubber stamp: a changed figure is found.
    let mut tampered = report.clone();
    let n = tampered["sting_unit"]["totals"]["operations_conducted"]
        .as_u64()
        .unwrap();
    tampered["sting_unit"]["totals"]["operations_conducted"] = serde_json::json!(n + 1);
    std::fs::write(d.join("t.json"), tampered.to_string()).unwrap();
    let o = recompute(d, "t.json");
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert!(text(&o).contains("operations_conducted"), "{}", text(&o));
}
