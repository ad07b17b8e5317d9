//! Standard output for the commands: a reader that goes away (`| head`) ends the
//! output, not the program.
//!
//! `println!` panics when stdout is a closed pipe (exit 101, "failed printing to
//! stdout"). Here the first write that finds the pipe closed stops all later output;
//! the command finishes what it was doing (an import commits every record it read) and
//! exits with its own code. Any other write error is reported once on stderr.

use std::io::Write;
use std::sync::atomic::{AtomicBool, Ordering};

static CLOSED: AtomicBool = AtomicBool::new(false);

/// Writes `args` to stdout, unless stdout has been found closed.
pub fn write(args: std::fmt::Arguments<'_>) {
    if CLOSED.load(Ordering::Relaxed) {
        return;
    }
    let mut out = std::io::stdout().lock();
    if let Err(e) = out.write_fmt(args).and_then(|()| out.flush()) {
        CLOSED.store(true, Ordering::Relaxed);
        if e.kind() != std::io::ErrorKind::BrokenPipe {
            eprintln!("error: cannot write to standard output: {e}");
        }
    }
}
