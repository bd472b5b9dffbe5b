//! A progress bar with the running score, drawn only on a terminal.

/// Progress of a long run (an evaluation, a phase of a compile), with a message beside the bar
/// such as the running or best score.
///
/// It draws nothing when hidden, when stderr is not a terminal, or without the `progress`
/// feature, so library code can always make one. It is cheap to share between the futures of
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
}

impl Progress {
    /// A bar over `total` steps titled `title`, or a silent one when `show` is false.
    pub fn new(total: usize, title: &str, show: bool) -> Self {
        #[cfg(feature = "progress")]
        {
            let bar = show.then(|| {
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
                bar
            });
            // Not a terminal: drop the bar, so steps cost nothing at all.
            let bar = bar.filter(|bar| !bar.is_hidden());
            Progress { bar }
        }
        #[cfg(not(feature = "progress"))]
        {
            let _ = (total, title, show);
            Progress {}
        }
    }

    /// One step done; `message` (e.g. the running score) is shown beside the bar. It is only
    /// called when the bar is drawn.
    pub fn step(&self, message: impl FnOnce() -> String) {
        #[cfg(feature = "progress")]
        if let Some(bar) = &self.bar {
            bar.set_message(message());
            bar.inc(1);
        }
        #[cfg(not(feature = "progress"))]
        let _ = message;
    }

    /// Replaces the message beside the bar without taking a step.
    pub fn set_message(&self, message: impl Into<String>) {
        #[cfg(feature = "progress")]
        if let Some(bar) = &self.bar {
            bar.set_message(message.into());
        }
        #[cfg(not(feature = "progress"))]
        let _ = message;
    }

    /// Ends the bar, leaving its last state on screen (again, it does nothing).
    pub fn finish(&self) {
        #[cfg(feature = "progress")]
        if let Some(bar) = &self.bar
            && !bar.is_finished()
        {
            bar.finish();
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
