//! Progress where there is no terminal (CI logs, `nohup`, a pipe): a plain line every few
//! seconds, so long work is never silent for minutes.

use std::io::Write;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// How often a line is written by default.
pub(super) const EVERY: Duration = Duration::from_secs(5);

pub(super) struct Lines {
    title: String,
    total: usize,
    every: Duration,
    started: Instant,
    state: Mutex<State>,
}

struct State {
    done: usize,
    message: String,
    last: Instant,
    /// Whether the final line was written.
    finished: bool,
    out: Box<dyn Write + Send>,
}

impl Lines {
    pub(super) fn new(
        total: usize,
        title: &str,
        every: Duration,
        out: Box<dyn Write + Send>,
    ) -> Self {
        let now = Instant::now();
        Lines {
            title: title.to_string(),
            total,
            every,
            started: now,
            state: Mutex::new(State {
                done: 0,
                message: String::new(),
                last: now,
                finished: false,
                out,
            }),
        }
    }

    pub(super) fn step(&self, message: impl FnOnce() -> String) {
        let mut state = self.lock();
        state.done += 1;
        let now = Instant::now();
        let last_step = state.done == self.total;
        if last_step || now.duration_since(state.last) >= self.every {
            // The last step's message too, so the final line carries the final score.
            state.message = message();
        }
        if !last_step && now.duration_since(state.last) >= self.every {
            state.last = now;
            self.write(&mut state, "");
        }
    }

    pub(super) fn set_message(&self, message: String) {
        self.lock().message = message;
    }

    /// The last line, once, when anything ran.
    pub(super) fn finish(&self) {
        let mut state = self.lock();
        if !state.finished && state.done > 0 {
            state.finished = true;
            self.write(&mut state, " done");
        }
    }

    fn write(&self, state: &mut State, suffix: &str) {
        let percent = 100.0 * state.done as f64 / self.total.max(1) as f64;
        let line = format!(
            "{}: {}/{} ({percent:.0}%) in {:.0?}{suffix}{}{}\n",
            self.title,
            state.done,
            self.total,
            self.started.elapsed(),
            if state.message.is_empty() { "" } else { "; " },
            state.message,
        );
        // Best effort, like eprintln! without its panic on a closed stderr.
        let _ = state.out.write_all(line.as_bytes());
        let _ = state.out.flush();
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }
}
