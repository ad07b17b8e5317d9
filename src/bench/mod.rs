//! Benchmarks that compare the ledger with its baselines in one run (docs/PERFORMANCE.md).
//! They create their own databases (`icac_bench_*`) and drop them afterwards.

pub mod append;
pub mod generate;
pub mod http;
pub mod measure;
pub mod ownership;
pub mod pages;
pub mod projections;
pub mod release;
pub mod tiles;
