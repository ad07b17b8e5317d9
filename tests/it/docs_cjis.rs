//! docs/CJIS.md names, for each control, the test that proves it: every name in its
//! last column must be a test function of this suite.

use std::path::Path;

fn test_sources(dir: &Path, out: &mut String) {
    for entry in std::fs::read_dir(dir).expect("tests/") {
        let path = entry.expect("entry").path();
        if path.is_dir() {
            test_sources(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push_str(&std::fs::read_to_string(&path).expect("read"));
        }
    }
}

#[test]
fn every_control_names_a_test_that_exists() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let table = std::fs::read_to_string(root.join("docs/CJIS.md")).expect("docs/CJIS.md");
    let mut sources = String::new();
    test_sources(&root.join("tests"), &mut sources);
    let mut rows = 0;
    for line in table
        .lines()
        .filter(|l| l.starts_with("| ") && !l.starts_with("| control"))
    {
        let Some(last) = line.trim_end_matches('|').rsplit('|').next() else {
            continue;
        };
        let names: Vec<&str> = last
            .split('`')
            .enumerate()
            .filter(|(i, _)| i % 2 == 1)
            .map(|(_, n)| n)
            .collect();
        assert!(!names.is_empty(), "a control without a test: {line}");
        for name in names {
            assert!(
                sources.contains(&format!("fn {name}(")),
                "docs/CJIS.md names {name}, which is not a test in tests/"
            );
        }
        rows += 1;
    }
    assert!(rows >= 6, "docs/CJIS.md has {rows} controls");
}
