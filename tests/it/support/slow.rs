//! The one gate for slow tests (in the style of rust-analyzer's `RUN_SLOW_TESTS`):
//! `cargo test` alone stays quick, and `ICAC_SLOW_TESTS=1` (which `.ci/run` sets)
//! runs everything. Slow means long fixed sleeps or restarts, crashes, a full disk, a
//! real browser, Go, SciPy, or above about 10 s. With the gate set, a slow test whose
//! tool is missing (Chromium, Go, SciPy, root for a tmpfs) fails instead of passing
//! unexercised.

/// The gate's variable.
pub const VAR: &str = "ICAC_SLOW_TESTS";

/// Whether the slow tests run: the gate is set to `1`.
pub fn enabled() -> bool {
    std::env::var(VAR).is_ok_and(|v| v == "1")
}

/// First line of every slow test: `if slow::skip("name") { return; }`. True (and
/// says so on stderr, which the harness shows with `--nocapture`) when the gate is
/// unset.
pub fn skip(test: &str) -> bool {
    let skip = !enabled();
    if skip {
        eprintln!("{test}: skipped: slow test; set {VAR}=1");
    }
    skip
}
