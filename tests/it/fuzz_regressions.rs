//! Replays the fuzz corpus on stable: every committed seed (fuzz/seeds/<target>) and every
//! input a fuzz run kept (fuzz/regressions/<target>) goes through the same property
//! check as its cargo-fuzz target (`icac_ledger::fuzz_checks`). See docs/FUZZING.md.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use icac_ledger::audit::bundle::verify_bundle;
use icac_ledger::audit::verify::VerifyOptions;
use icac_ledger::fuzz_checks::{self, Reference, Violation};

fn fuzz_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz")
}

/// Files under `fuzz/<kind>/<target>/`, sorted; none if the folder does not exist.
fn files(kind: &str, target: &str) -> Vec<PathBuf> {
    let dir = fuzz_dir().join(kind).join(target);
    let mut out: Vec<PathBuf> = match std::fs::read_dir(&dir) {
        Ok(entries) => entries
            .map(|e| e.expect("read fuzz dir entry").path())
            .filter(|p| p.is_file())
            .collect(),
        Err(_) => Vec::new(),
    };
    out.sort();
    out
}

/// Runs `check` on every seed and regression input of `target`; fails listing each
/// input that breaks the property (a panic inside the code under test fails the test
/// at once, naming the input on stderr first).
fn replay(target: &str, min_seeds: usize, check: impl Fn(&[u8]) -> Result<(), Violation>) {
    let seeds = files("seeds", target);
    assert!(
        seeds.len() >= min_seeds,
        "fuzz/seeds/{target} has {} files, expected at least {min_seeds}",
        seeds.len()
    );
    let mut failures = Vec::new();
    let inputs: Vec<PathBuf> = seeds
        .into_iter()
        .chain(files("regressions", target))
        .collect();
    for path in &inputs {
        let data = std::fs::read(path).expect("read fuzz input");
        eprintln!("{target}: {}", path.display());
        if let Err(v) = check(&data) {
            failures.push(format!("{}: {v}", path.display()));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

fn reference() -> &'static Reference {
    static REFERENCE: OnceLock<Reference> = OnceLock::new();
    REFERENCE.get_or_init(|| {
        let data = std::fs::read(fuzz_dir().join("seeds/bundle/full.jsonl"))
            .expect("fuzz/seeds/bundle/full.jsonl");
        Reference::from_bundle(&data).expect("the reference bundle verifies intact")
    })
}

#[test]
fn canonical() {
    replay("canonical", 5, fuzz_checks::canonical);
}

#[test]
fn form() {
    replay("form", 5, fuzz_checks::form);
}

#[test]
fn form_edits() {
    replay("form_edits", 1, fuzz_checks::form_edits);
}

#[test]
fn bundle() {
    replay("bundle", 2, |d| fuzz_checks::bundle(d, reference()));
}

#[test]
fn checkpoint() {
    replay("checkpoint", 2, |d| fuzz_checks::checkpoint(d, reference()));
}

#[test]
fn proof() {
    replay("proof", 2, |d| fuzz_checks::proof(d, reference()));
}

/// Structure-aware mutation must start from forms that are valid, or it only ever
/// explores refusals.
#[test]
fn form_bases_are_valid_and_seeded() {
    let bases = fuzz_checks::form_bases().expect("form bases");
    assert!(bases.len() >= 8, "only {} valid base forms", bases.len());
    for base in bases {
        fuzz_checks::form_value(base).expect("a base passes the form property");
    }
    // Each base is in the `form` seed corpus (regenerate with the ignored test below).
    let seeds: Vec<serde_json::Value> = files("seeds", "form")
        .iter()
        .filter_map(|p| serde_json::from_slice(&std::fs::read(p).ok()?).ok())
        .collect();
    for base in bases {
        assert!(
            seeds.contains(base),
            "a base form is missing from fuzz/seeds/form"
        );
    }
}

/// Edits of genuine inputs meet the properties because the code refuses them: a bundle
/// with one byte flipped is reported broken at its first event, and a form with an
/// unknown field is refused with a pointer to that field.
#[test]
fn edited_genuine_inputs_are_refused() {
    let r = reference();
    let genuine = std::fs::read(fuzz_dir().join("seeds/bundle/full.jsonl")).expect("bundle");
    fuzz_checks::bundle(&genuine, r).expect("genuine bundle");
    let mut edited = genuine.clone();
    let at = genuine
        .iter()
        .position(|&b| b == b'\n')
        .expect("header line")
        + 40;
    edited[at] ^= 0x01;
    fuzz_checks::bundle(&edited, r).expect("edited bundle meets the property");
    let report = verify_bundle(
        Box::new(std::io::Cursor::new(edited)),
        "edited",
        VerifyOptions::default(),
    )
    .expect("verification runs");
    assert!(!report.intact);
    assert_eq!(report.first_break.map(|b| b.position), Some(1));

    let mut form = fuzz_checks::form_bases().expect("bases")[0].clone();
    form["no_such_field"] = serde_json::json!(1);
    fuzz_checks::form_value(&form).expect("refused with a resolving pointer");
}

/// Writes the `form` seed corpus from the demo generator's valid forms:
/// `cargo test --test fuzz_regressions -- --ignored write_form_seeds`.
#[test]
#[ignore]
fn write_form_seeds() {
    let dir = fuzz_dir().join("seeds/form");
    std::fs::create_dir_all(&dir).expect("create fuzz/seeds/form");
    for (i, base) in fuzz_checks::form_bases().expect("bases").iter().enumerate() {
        let bytes = serde_json::to_vec_pretty(base).expect("serialize");
        std::fs::write(dir.join(format!("demo-{i:02}.json")), bytes).expect("write seed");
    }
}
