//! A C2SP tlog-witness that a third party runs beside no ledger of theirs: it cosigns a
//! log's checkpoints only when they are consistent with the last one it cosigned, keeps
//! its state in its own SQLite file (`state`), and answers over HTTP (`server`).

pub mod server;
pub mod state;
