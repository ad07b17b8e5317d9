//! `tests/bench_ownership.rs` is still a test binary of its own (it is moving to the
//! bench crate); it reaches the `it` harness's child-process fixtures through this
//! file instead of a second copy of them.

// Only part of the fixtures is used by that one binary.
#[allow(dead_code, unused_imports)]
#[path = "../it/support/child_server.rs"]
mod shared;

#[allow(unused_imports)]
pub use shared::*;
