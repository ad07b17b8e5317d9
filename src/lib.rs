//! icac-ledger: the case records of Connecticut's Internet Crimes Against Children Task
//! Force (C.G.S. 29-7e) as a tamper-evident, event-sourced ledger.
//!
//! Data flows one way: HTTP/CLI → command → aggregate → events → ledger → projections.
//! See docs/ARCHITECTURE.md for the map.

pub mod access;
pub mod audit;
/// Benchmarks against their baselines (docs/PERFORMANCE.md); not in the server build.
#[cfg(feature = "bench")]
pub mod bench;
pub mod cli;
pub mod commands;
pub mod config;
pub mod event_store;
/// Properties the fuzz targets and tests/it/fuzz_regressions.rs check; not in the server build.
#[cfg(feature = "fuzz")]
pub mod fuzz_checks;
pub mod http;
pub mod ledger;
pub mod read_side;
pub mod storage;
pub mod tlog;
pub mod witness;
