//! The integration tests: one binary (one link of the whole application instead of
//! one per file), one module per subject, the shared fixtures in `support`.
//! Slow tests run only with `ICAC_SLOW_TESTS=1` (`support::slow`). The modules of
//! the benchmark and fuzz tools need their features (`--all-features`, as the
//! README's test command passes).

// A test fails by panicking; helpers outside `#[test]` functions unwrap too.
#![allow(clippy::unwrap_used)]

mod support;

mod audit_bundle;
mod audit_cli;
mod audit_proofs;
mod audit_tamper;
#[cfg(feature = "bench")]
mod bench_generate;
#[cfg(feature = "bench")]
mod bench_ownership;
mod bundle_export_rotation;
mod commands;
mod crash;
mod deconfliction;
mod deconfliction_key;
mod disk_full;
mod docs_cjis;
#[cfg(feature = "fuzz")]
mod fuzz_regressions;
mod http_accounts;
mod http_accounts_browser;
mod http_api;
mod http_browser;
mod http_connections;
mod http_hostile;
mod http_openapi;
mod http_pages;
mod http_roles;
mod keys_lifecycle;
mod ledger;
mod operator_files;
mod pg_restart;
mod pg_roles;
mod projection_views;
mod projections_ledger;
mod report_recompute;
mod report_release;
mod report_release_http;
mod schema;
mod sealed_data;
mod tlog_child;
mod tlog_go;
mod tlog_pages;
mod tlog_witness;
mod vectors;
mod workflow_cases;
mod workflow_deadlines;
mod workflow_sharing;
mod workflow_sting;
mod workflow_tips;
