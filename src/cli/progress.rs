//! Progress bars for long CLI work (demo, import, verify, export, report, rebuild): a bar
//! with the count, the rate and an ETA on standard error, drawn only when both standard
//! output and standard error are terminals. Piped, redirected or under a test, nothing
//! is drawn and each command prints exactly what it printed before.
//!
//! A bar only watches: the work reports how far it got through a callback that decides
//! nothing, and the bar never changes what the work does.

use std::io::{BufRead, IsTerminal, Read};
use std::time::Duration;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressState, ProgressStyle};

/// A bar on a terminal, or nothing.
pub struct Progress {
    bar: Option<ProgressBar>,
}

/// Whether a bar would be seen: both streams are a person's terminal.
pub fn on_terminal() -> bool {
    std::io::stderr().is_terminal() && std::io::stdout().is_terminal()
}

impl Progress {
    /// A bar for `total` `unit`s of work named `what` ("verifying", "events"); 0: not
    /// known yet (see [`Progress::restart`]).
    pub fn new(what: &str, total: u64, unit: &'static str) -> Self {
        if !on_terminal() {
            return Progress { bar: None };
        }
        let length = (total > 0).then_some(total);
        let bar = ProgressBar::with_draw_target(length, ProgressDrawTarget::stderr());
        let template = format!(
            "{{prefix}} {{wide_bar}} {{human_pos}}/{{human_len}} {unit}  {{rate}} {unit}/s  ETA {{eta}}"
        );
        if let Ok(style) = ProgressStyle::with_template(&template) {
            bar.set_style(style.progress_chars("=> ").with_key("rate", rate));
        }
        bar.set_prefix(what.to_owned());
        bar.enable_steady_tick(Duration::from_millis(200));
        Progress { bar: Some(bar) }
    }

    /// A bar over the `total` bytes of a file read through [`Progress::reader`].
    pub fn bytes(what: &str, total: u64) -> Self {
        if !on_terminal() {
            return Progress { bar: None };
        }
        let bar = ProgressBar::with_draw_target(Some(total), ProgressDrawTarget::stderr());
        if let Ok(style) = ProgressStyle::with_template(
            "{prefix} {wide_bar} {bytes}/{total_bytes}  {bytes_per_sec}  ETA {eta}",
        ) {
            bar.set_style(style.progress_chars("=> "));
        }
        bar.set_prefix(what.to_owned());
        bar.enable_steady_tick(Duration::from_millis(200));
        Progress { bar: Some(bar) }
    }

    /// `input`, moving the bar by each byte the work consumes.
    pub fn reader<R: BufRead>(&self, input: R) -> Counted<R> {
        Counted {
            inner: input,
            bar: self.bar.clone(),
        }
    }

    /// Whether a bar is drawn (the command then leaves out its own progress lines).
    pub fn is_drawn(&self) -> bool {
        self.bar.is_some()
    }

    /// `done` units are finished.
    pub fn set(&self, done: u64) {
        if let Some(b) = &self.bar {
            b.set_position(done);
        }
    }

    /// A callback that moves the bar, for work that runs on another thread.
    pub fn setter(&self) -> impl FnMut(u64) + Send + 'static {
        let bar = self.bar.clone();
        move |done| {
            if let Some(b) = &bar {
                b.set_position(done);
            }
        }
    }

    /// The work turned out to be `total` units (a second stage, a count learned late).
    pub fn restart(&self, what: &str, total: u64) {
        if let Some(b) = &self.bar {
            b.set_prefix(what.to_owned());
            b.set_length(total);
            b.reset();
        }
    }

    /// Removes the bar, leaving the terminal as it was for the command's own output.
    pub fn finish(&self) {
        if let Some(b) = &self.bar {
            b.finish_and_clear();
        }
    }
}

impl Drop for Progress {
    fn drop(&mut self) {
        self.finish();
    }
}

/// Units per second, whole.
fn rate(state: &ProgressState, w: &mut dyn std::fmt::Write) {
    let _ = write!(w, "{:.0}", state.per_sec());
}

/// A reader that tells its bar how far the work has read.
pub struct Counted<R> {
    inner: R,
    bar: Option<ProgressBar>,
}

impl<R: BufRead> Read for Counted<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        if let Some(b) = &self.bar {
            b.inc(n as u64);
        }
        Ok(n)
    }
}

impl<R: BufRead> BufRead for Counted<R> {
    fn fill_buf(&mut self) -> std::io::Result<&[u8]> {
        self.inner.fill_buf()
    }

    fn consume(&mut self, amt: usize) {
        self.inner.consume(amt);
        if let Some(b) = &self.bar {
            b.inc(amt as u64);
        }
    }
}
