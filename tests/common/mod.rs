//! `tests/bench_generate.rs` is still a test binary of its own (it is moving to the
//! bench crate); it reaches the fixtures of the `it` harness through this file
//! instead of a second copy of them.

// Only part of the fixtures is used by that one binary.
#[allow(dead_code, unused_imports)]
#[path = "../it/support/common.rs"]
mod shared;

#[allow(unused_imports)]
pub use shared::*;
