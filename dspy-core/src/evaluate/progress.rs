//! A progress bar with the running score on a terminal; a line every few seconds elsewhere.

use super::progress_lines::{EVERY, Lines};
use std::io::IsTerminal;
use std::time::Duration;

/// Progress of a long run (an evaluation, a phase of a compile), with a message beside the bar
/// such as the running or best score.
///
/// On a terminal it draws a bar (with the `progress` feature, on by default). Where stderr is
/// not a terminal (a CI log, a pipe) or without the feature, it writes a plain line every 5
/// seconds instead (`Evaluate: 120/500 (24%) in 35s; score 61.7% (3 failed)`) and one when done,
/// so long work is never silent. It writes nothing when hidden, so library code can always make
/// one. It is cheap to share between the futures of
/// one run (`&Progress` is all they need). It finishes when dropped, so a run that returns
/// early (an error, a budget) leaves its bar finished without a call to [`finish`](Self::finish).
///
/// ```
/// use dspy_core::evaluate::Progress;
/// let progress = Progress::new(3, "Bootstrap", false); // hidden: draws nothing
/// for i in 0..3 {
///     progress.step(|| format!("{} of 3 done", i + 1));
/// }
/// progress.set_message("best 81.2%");
/// progress.finish();
/// ```
pub struct Progress {
    #[cfg(feature = "progress")]
    bar: Option<indicatif::ProgressBar>,
    lines: Option<Lines>,
}

impl Progress {
    /// A bar over `total` steps titled `title` on a terminal, [lines](Self::lines) every 5 s
    /// elsewhere, or nothing at all when `show` is false.
    pub fn new(total: usize, title: &str, show: bool) -> Self {
        if !show {
            return Self::silent();
        }
        if cfg!(feature = "progress") && std::io::stderr().is_terminal() {
            return Self::bar(total, title);
        }
        Self::lines(total, title, EVERY, Box::new(std::io::stderr()))
    }

    /// Progress as plain lines to `out`, one at most every `every` (and one when done): what
    /// [`new`](Self::new) does where stderr is not a terminal. For logs of your own.
    ///
    /// ```
    /// use dspy_core::evaluate::Progress;
    /// use std::time::Duration;
    /// let progress = Progress::lines(2, "Evaluate", Duration::from_secs(3600), Box::new(std::io::sink()));
    /// progress.step(|| "score 100.0%".into());
    /// progress.finish(); // writes "Evaluate: 1/2 (50%) in …s done"
    /// ```
    pub fn lines(
        total: usize,
        title: &str,
        every: Duration,
        out: Box<dyn std::io::Write + Send>,
    ) -> Self {
        Progress {
            #[cfg(feature = "progress")]
            bar: None,
            lines: Some(Lines::new(total, title, every, out)),
        }
    }

    fn silent() -> Self {
        Progress {
            #[cfg(feature = "progress")]
            bar: None,
            lines: None,
        }
    }

    #[cfg(feature = "progress")]
    fn bar(total: usize, title: &str) -> Self {
        let bar = indicatif::ProgressBar::with_draw_target(
            Some(total as u64),
            // At most 10 redraws a second, so a fast run pays next to nothing.
            indicatif::ProgressDrawTarget::stderr_with_hz(10),
        );
        if let Ok(style) = indicatif::ProgressStyle::with_template(
            "{prefix} {bar:30} {pos}/{len} [{elapsed_precise}<{eta_precise}] {msg}",
        ) {
            bar.set_style(style);
        }
        bar.set_prefix(title.to_string());
        bar.enable_steady_tick(std::time::Duration::from_millis(250));
        Progress {
            bar: Some(bar),
            lines: None,
        }
    }

    #[cfg(not(feature = "progress"))]
    fn bar(total: usize, title: &str) -> Self {
        Self::lines(total, title, EVERY, Box::new(std::io::stderr()))
    }

    /// One step done; `message` (e.g. the running score) is shown beside the bar. It is only
    /// called when the bar is drawn.
    pub fn step(&self, message: impl FnOnce() -> String) {
        #[cfg(feature = "progress")]
        if let Some(bar) = &self.bar {
            bar.set_message(message());
            bar.inc(1);
            return;
        }
        if let Some(lines) = &self.lines {
            lines.step(message);
        }
    }

    /// Replaces the message beside the bar without taking a step.
    pub fn set_message(&self, message: impl Into<String>) {
        let message = message.into();
        if let Some(lines) = &self.lines {
            lines.set_message(message.clone());
        }
        #[cfg(feature = "progress")]
        if let Some(bar) = &self.bar {
            bar.set_message(message);
        }
    }

    /// Ends the bar, leaving its last state on screen (again, it does nothing).
    pub fn finish(&self) {
        #[cfg(feature = "progress")]
        if let Some(bar) = &self.bar
            && !bar.is_finished()
        {
            bar.finish();
        }
        if let Some(lines) = &self.lines {
            lines.finish();
        }
    }
}

/// A bar dropped before it was finished (a run that ended early) is finished as it stands.
impl Drop for Progress {
    fn drop(&mut self) {
        self.finish();
    }
}

impl std::fmt::Debug for Progress {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Progress").finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::{Arc, Mutex};

    /// A writer the test can read back.
    #[derive(Clone, Default)]
    struct Buffer(Arc<Mutex<Vec<u8>>>);

    impl std::io::Write for Buffer {
        fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(bytes);
            Ok(bytes.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    impl Buffer {
        fn lines(&self) -> Vec<String> {
            let text = String::from_utf8(self.0.lock().unwrap().clone()).unwrap();
            text.lines().map(str::to_string).collect()
        }
    }

    #[test]
    fn off_a_terminal_progress_is_written_as_lines() {
        let out = Buffer::default();
        let progress = Progress::lines(4, "Evaluate", Duration::ZERO, Box::new(out.clone()));
        for i in 1..=3 {
            progress.step(|| format!("score {}%", 10 * i));
        }
        progress.set_message("best 30%");
        drop(progress); // finishes
        let lines = out.lines();
        assert_eq!(lines.len(), 4, "{lines:?}");
        assert!(lines[0].starts_with("Evaluate: 1/4 (25%) in "), "{lines:?}");
        assert!(lines[2].contains("3/4 (75%)") && lines[2].ends_with("; score 30%"));
        assert!(lines[3].contains("3/4") && lines[3].contains(" done; best 30%"));

        // Between lines, the interval: a fast run writes only its last line, once.
        let out = Buffer::default();
        let progress = Progress::lines(100, "Bootstrap", EVERY, Box::new(out.clone()));
        for _ in 0..100 {
            progress.step(String::new);
        }
        progress.finish();
        progress.finish();
        assert_eq!(out.lines().len(), 1);
        assert!(out.lines()[0].starts_with("Bootstrap: 100/100 (100%)"));

        // Nothing ran, nothing written.
        let out = Buffer::default();
        drop(Progress::lines(
            5,
            "Idle",
            Duration::ZERO,
            Box::new(out.clone()),
        ));
        assert!(out.lines().is_empty());
    }
}
