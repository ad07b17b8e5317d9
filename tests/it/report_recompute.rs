//! Every published table of the annual report, recomputed from the ledger's export
//! bundle alone by an independent script (tests/independent/recompute_report.py:
//! Python's standard library, written from docs/REPORT_AUTHORS.md, no code shared
//! with icac-ledger) and compared with `report annual` cell by cell, over a demo
//! ledger of 300 cases: a draft and two overlapping releases. The script must also
//! catch a changed figure in each kind of table.

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

fn recompute(dir: &Path, bundle: &str, report: &str) -> Output {
    let script = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/independent/recompute_report.py"
    );
    Command::new("python3")
        .current_dir(dir)
        .args([script, bundle, report])
        .output()
        .expect("python3 is needed for the independent check")
}

fn report(dir: &Path, out: &str, from: &str, to: &str, extra: &[&str]) {
    let mut args = vec![
        "report",
        "annual",
        "--without-recommendation",
        "--from",
        from,
        "--to",
        to,
        "--format",
        "json",
        "--out",
        out,
    ];
    args.extend_from_slice(extra);
    let o = run(dir, &args);
    assert_eq!(o.status.code(), Some(0), "{out}: {}", text(&o));
}

/// Writes `name` as `report` with one figure changed by `edit`, and requires the
/// script to name `expect` among the differences.
fn caught(
    dir: &Path,
    report: &serde_json::Value,
    name: &str,
    edit: impl Fn(&mut serde_json::Value),
    expect: &str,
) {
    let mut changed = report.clone();
    edit(&mut changed["figures"]);
    assert_ne!(&changed, report, "{name}: the edit changed nothing");
    std::fs::write(dir.join(name), changed.to_string()).unwrap();
    let o = recompute(dir, "b.jsonl", name);
    assert_eq!(o.status.code(), Some(1), "{name}: {}", text(&o));
    assert!(text(&o).contains(expect), "{name}: {}", text(&o));
}

fn bump(v: &mut serde_json::Value) {
    *v = serde_json::json!(v.as_u64().expect("a count") + 1);
}

#[test]
fn every_table_recomputes_from_the_export_on_300_cases() {
    if slow::skip("every_table_recomputes_from_the_export_on_300_cases") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    for args in [&["init"][..], &["demo", "--cases", "300"][..]] {
        let o = run(d, args);
        assert_eq!(o.status.code(), Some(0), "{args:?}: {}", text(&o));
    }
    // A draft over two years, and two overlapping releases (jointly suppressed).
    report(d, "draft.json", "2024-07-01", "2026-06-30", &[]);
    report(d, "fy2025.json", "2024-07-01", "2025-06-30", &["--release"]);
    report(
        d,
        "cal2025.json",
        "2025-01-01",
        "2025-12-31",
        &["--release"],
    );
    let o = run(d, &["export", "--out", "b.jsonl"]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));

    for name in ["draft.json", "fy2025.json", "cal2025.json"] {
        let o = recompute(d, "b.jsonl", name);
        assert_eq!(o.status.code(), Some(0), "{name}: {}", text(&o));
        assert!(text(&o).contains("0 difference(s)"), "{}", text(&o));
    }

    // The figures are not trivial: something of each kind is there to compare.
    let r: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(d.join("cal2025.json")).unwrap()).unwrap();
    let f = &r["figures"];
    assert!(f["notifications"]["total"].as_u64().unwrap() > 0);
    assert!(f["timeliness"]["due"].as_u64().unwrap() > 0);
    assert!(f["information_shares"]["unit_recipients"].as_u64().unwrap() > 1);
    assert!(f["arrests"]["arrests"].as_u64().unwrap() > 0);
    let victims = f["victims_identified"].to_string();
    assert!(victims.contains("suppressed"), "{victims}");

    // A changed figure in any table is caught and named.
    caught(
        d,
        &r,
        "t1.json",
        |f| bump(&mut f["notifications"]["total"]),
        "notifications.total",
    );
    caught(
        d,
        &r,
        "t2.json",
        |f| bump(&mut f["notifications"]["by_month"][0]["count"]),
        "notifications.by_month",
    );
    caught(
        d,
        &r,
        "t3.json",
        |f| f["timeliness"]["percent_on_time_of_due"] = serde_json::json!("99.9"),
        "timeliness.percent_on_time_of_due",
    );
    caught(
        d,
        &r,
        "t4.json",
        |f| bump(&mut f["timeliness"]["overdue"]),
        "timeliness.overdue",
    );
    caught(
        d,
        &r,
        "t5.json",
        |f| bump(&mut f["information_shares"]["unit_recipients"]),
        "information_shares.unit_recipients",
    );
    caught(
        d,
        &r,
        "t6.json",
        |f| bump(&mut f["arrests"]["charges"][0]["counts"]),
        "arrests.charges",
    );
    caught(
        d,
        &r,
        "t7.json",
        |f| bump(&mut f["investigations"]["opened"]),
        "investigations.opened",
    );
    // A shown victim figure changed, and a suppressed one shown: both caught.
    let table = &f["victims_identified"];
    let (mut shown, mut hidden) = (None, None);
    for (b, row) in table["cells"].as_array().unwrap().iter().enumerate() {
        for (q, cell) in row.as_array().unwrap().iter().enumerate() {
            match cell.as_u64() {
                Some(n) if n > 10 && shown.is_none() => shown = Some((b, q)),
                None if hidden.is_none() => hidden = Some((b, q)),
                _ => {}
            }
        }
    }
    let (b, q) = shown.expect("a shown victim figure");
    caught(
        d,
        &r,
        "t8.json",
        |f| bump(&mut f["victims_identified"]["cells"][b][q]),
        "victims_identified[",
    );
    let (b, q) = hidden.expect("a suppressed victim figure");
    caught(
        d,
        &r,
        "t9.json",
        |f| f["victims_identified"]["cells"][b][q] = serde_json::json!(0),
        "victims_identified[",
    );
    let mut sting = r.clone();
    bump(&mut sting["sting_unit"]["totals"]["arrests"]);
    std::fs::write(d.join("t10.json"), sting.to_string()).unwrap();
    let o = recompute(d, "b.jsonl", "t10.json");
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert!(
        text(&o).contains("sting_unit.totals.arrests"),
        "{}",
        text(&o)
    );
}
