//! Given/when/then and property tests for the domain crate (one test binary
//! to keep link time down).

mod case_tests;
mod compliance_tests;
mod demo_tests;
mod fixtures;
mod other_aggregates;
mod status_props;
mod upcast_tests;
mod validation_tests;
mod workflow_tests;
