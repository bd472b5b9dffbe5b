//! The options the optimizers share, and the one set of setters for them.

use crate::checkpoint::Checkpoint;
use dspy_core::LM;
use dspy_core::module::DEFAULT_CONCURRENCY;

/// The knobs every optimizer that has them shares: seed, concurrency, progress bars, the prompt
/// and task models, and the checkpoint.
///
/// Each optimizer has the setters of the knobs it uses (documented once, here), as methods of
/// its own: `COPRO::new(metric).seed(3).prompt_model(lm)`. One it does not use it does not have:
/// [`LabeledFewShot`](crate::LabeledFewShot) has a seed, no concurrency.
///
/// ```
/// use dspy_optimize::search::SearchOptions;
/// let options = SearchOptions::default().seed(7).concurrency(0).progress(false);
/// assert_eq!((options.seed, options.concurrency, options.progress), (7, 1, false));
/// assert!(options.prompt_model.is_none() && options.checkpoint.is_none());
/// ```
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct SearchOptions {
    /// The seed of every random draw (default 0).
    pub seed: u64,
    /// How many LM calls go at a time (default 8; the setter keeps it at least 1).
    pub concurrency: usize,
    /// Whether progress bars are drawn on a terminal (default true).
    pub progress: bool,
    /// The LM of the optimizer's own calls (proposals, rules, reflections); `None`: the
    /// configured one.
    pub prompt_model: Option<LM>,
    /// The LM the program runs on while it is bootstrapped and scored; `None`: the configured
    /// one.
    pub task_model: Option<LM>,
    /// Where the search's progress is saved, to resume a killed compile.
    pub checkpoint: Option<Checkpoint>,
    /// The field that names each training example in its demos' provenance; `None`: the
    /// example's content hash ([`example_id`](dspy_core::module::example_id)).
    pub id_field: Option<String>,
}

impl Default for SearchOptions {
    fn default() -> Self {
        SearchOptions {
            seed: 0,
            concurrency: DEFAULT_CONCURRENCY,
            progress: true,
            prompt_model: None,
            task_model: None,
            checkpoint: None,
            id_field: None,
        }
    }
}

/// The setters of [`SearchOptions`], as inherent methods of the type they are expanded in:
/// `search_setters!([options] seed, progress)` gives a type whose `options` field is a
/// `SearchOptions` its `seed` and `progress` setters (`[]`: the type is `SearchOptions`).
/// `metric` adds the getter of a `metric` field. The docs are written here once, so every
/// optimizer says the same.
macro_rules! search_setters {
    ($fields:tt $($knob:ident),* $(,)?) => {
        $(search_setters!(@$knob $fields);)*
    };
    (@seed [$($field:ident)?]) => {
        /// The seed of every random draw (default 0): with a deterministic LM, the same seed
        /// gives the same program.
        #[must_use]
        pub fn seed(mut self, seed: u64) -> Self {
            self$(.$field)?.seed = seed;
            self
        }
    };
    (@concurrency [$($field:ident)?]) => {
        /// Runs up to `n` LM calls at a time (default 8; at least 1): the examples of an
        /// evaluation, and the optimizer's own proposals.
        #[must_use]
        pub fn concurrency(mut self, n: usize) -> Self {
            self$(.$field)?.concurrency = n.max(1);
            self
        }
    };
    (@progress [$($field:ident)?]) => {
        /// Shows progress bars on a terminal (the default) or not.
        #[must_use]
        pub fn progress(mut self, show: bool) -> Self {
            self$(.$field)?.progress = show;
            self
        }
    };
    (@prompt_model [$($field:ident)?]) => {
        /// The LM of the optimizer's own calls: the one that proposes instructions, summarizes
        /// the data, writes rules or reflects on runs (default: the configured one). A strong
        /// model pays off here.
        #[must_use]
        pub fn prompt_model(mut self, lm: $crate::dspy_core::LM) -> Self {
            self$(.$field)?.prompt_model = Some(lm);
            self
        }
    };
    (@task_model [$($field:ident)?]) => {
        /// The LM the program runs on while it is bootstrapped and scored (default: the
        /// configured one; predictors with an LM of their own keep it).
        #[must_use]
        pub fn task_model(mut self, lm: $crate::dspy_core::LM) -> Self {
            self$(.$field)?.task_model = Some(lm);
            self
        }
    };
    (@checkpoint [$($field:ident)?]) => {
        /// Saves the search's progress to `path` after every step, and resumes from it when a
        /// compile with the same arguments finds it (see
        /// [`Checkpoint`](crate::checkpoint::Checkpoint)). The file stays after the compile
        /// ends, so running it again returns the same program without LM calls; delete it to
        /// start over. Other models (by name) make another key, so switching models starts
        /// over.
        #[must_use]
        pub fn checkpoint(mut self, path: impl Into<std::path::PathBuf>) -> Self {
            self$(.$field)?.checkpoint = Some($crate::checkpoint::Checkpoint::new(path));
            self
        }
    };
    (@id_field [$($field:ident)?]) => {
        /// Names each training example, in the provenance of the demos made from it, by the
        /// value of its field `name` (a string, or any JSON value as text) instead of its
        /// content hash. Every example must have the field, and no two may share its value.
        #[must_use]
        pub fn id_field(mut self, name: impl Into<String>) -> Self {
            self$(.$field)?.id_field = Some(name.into());
            self
        }
    };
    (@metric [$($field:ident)?]) => {
        /// The metric.
        pub fn metric(&self) -> &M {
            &self.metric
        }
    };
}
pub(crate) use search_setters;

impl SearchOptions {
    search_setters!([] seed, concurrency, progress, prompt_model, task_model, checkpoint, id_field);
}
