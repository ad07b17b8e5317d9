//! The fixtures every module of the harness shares, compiled once.

pub mod browser;
pub mod child_server;
pub mod common;
pub mod http_support;
pub mod slow;
pub mod tamper;
