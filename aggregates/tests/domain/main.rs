//! Given/when/then and property tests for the domain crate (one test binary
//! to keep link time down).

// A test fails by panicking; helpers outside `#[test]` functions unwrap too.
#![allow(clippy::unwrap_used)]

mod case_tests;
mod compliance_tests;
mod demo_tests;
mod fixtures;
mod other_aggregates;
mod status_props;
mod upcast_tests;
mod validation_tests;
mod workflow_tests;
