//! A progress bar with the running score, drawn only on a terminal.

/// Progress of a long run; draws nothing when hidden, when stderr is not a terminal, or
/// without the `progress` feature.
pub(crate) struct Progress {
    #[cfg(feature = "progress")]
    bar: Option<indicatif::ProgressBar>,
}

impl Progress {
    /// A bar over `total` steps titled `title`, or a silent one when `show` is false.
    pub(crate) fn new(total: usize, title: &str, show: bool) -> Self {
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

    /// One step done; `message` (e.g. the running score) is shown beside the bar.
    pub(crate) fn step(&self, message: impl FnOnce() -> String) {
        #[cfg(feature = "progress")]
        if let Some(bar) = &self.bar {
            bar.set_message(message());
            bar.inc(1);
        }
        #[cfg(not(feature = "progress"))]
        let _ = message;
    }

    /// Ends the bar, leaving its last state on screen.
    pub(crate) fn finish(&self) {
        #[cfg(feature = "progress")]
        if let Some(bar) = &self.bar {
            bar.finish();
        }
    }
}
