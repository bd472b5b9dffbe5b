//! [`ExportPrompts`]: every predictor's prompt of a program, as one Markdown file, without
//! calling the LM.

use super::params::Parameters;
use super::prompt_view::PromptView;
use crate::lm::current_lm;
use crate::{Error, Result};
use std::fmt;
use std::path::Path;

/// The prompt of every predictor of a program, in the program's order: what
/// [`ExportPrompts::prompts`] returns. It prints (`Display`) as one Markdown document.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct ProgramPrompts {
    /// The model of the LM in effect when they were rendered, if any (a predictor with an LM
    /// of its own uses that one).
    pub model: Option<String>,
    /// One view per predictor, named by its dotted name.
    pub predictors: Vec<PromptView>,
}

impl ProgramPrompts {
    /// The prompts of every predictor of `program`, rendered with the adapter each would use
    /// now.
    pub fn of<P: Parameters + ?Sized>(program: &P) -> Result<Self> {
        let predictors = program
            .predictors()
            .into_iter()
            .map(|(name, predictor)| Ok(predictor.render_prompt()?.named(name)))
            .collect::<Result<Vec<_>>>()?;
        Ok(ProgramPrompts {
            model: current_lm().map(|lm| lm.model().to_string()),
            predictors,
        })
    }

    /// The Markdown document (the same as `to_string()`).
    pub fn to_markdown(&self) -> String {
        self.to_string()
    }

    /// Writes [`to_markdown`](Self::to_markdown) to `path` atomically; an IO error is an
    /// [`Error::Data`] naming the file.
    pub fn write(&self, path: impl AsRef<Path>) -> Result<()> {
        let path = path.as_ref();
        crate::util::write_atomic(path, self.to_markdown()).map_err(|e| {
            let message = format!(
                "could not write the prompts: {e}; check that the directory exists and is \
                 writable"
            );
            Error::data_caused_by(path, None, message, e)
        })
    }
}

impl fmt::Display for ProgramPrompts {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let names: Vec<String> = self
            .predictors
            .iter()
            .filter_map(|p| p.predictor.as_ref().map(|n| format!("`{n}`")))
            .collect();
        writeln!(f, "# Prompts\n")?;
        let count = self.predictors.len();
        write!(
            f,
            "{count} predictor{}: {}. Each prompt is rendered by the adapter its predictor \
             would use ",
            if count == 1 { "" } else { "s" },
            names.join(", ")
        )?;
        match &self.model {
            Some(model) => write!(f, "with `{model}`")?,
            None => write!(f, "with no LM configured")?,
        }
        writeln!(
            f,
            ", exactly as sent but for the input; no LM was called.\n"
        )?;
        for view in &self.predictors {
            write!(f, "{view}")?;
        }
        Ok(())
    }
}

/// Shows every prompt of a program, of any depth, without calling the LM: for each predictor,
/// its name, instructions, fields and demos (complete and partial) as its adapter renders
/// them, the input left as `{name}` placeholders. Every [`Parameters`] type has it.
///
/// The adapter is the one each predictor would use now: its own, else the one the LM in effect
/// calls for (a completion prompt for a base model, JSON for a chat model that enforces a
/// schema, chat markers otherwise), else the chat markers with no LM. Wrap the call in
/// [`with_lm_sync`](crate::lm::with_lm_sync) to render for another LM.
///
/// ```
/// use dspy_core::{ChainOfThought, ExportPrompts, Predict};
/// # use dspy_macros::{Module, Signature};
/// /// Name the country.
/// #[derive(Signature, Clone, Debug)]
/// # #[dspy(crate = "dspy_core")]
/// struct Country { #[input] city: String, #[output] country: String }
/// /// Name its capital.
/// #[derive(Signature, Clone, Debug)]
/// # #[dspy(crate = "dspy_core")]
/// struct Capital { #[input] country: String, #[output] capital: String }
///
/// #[derive(Module, Clone)]
/// # #[dspy(crate = "dspy_core")]
/// struct Trip { country: Predict<Country>, capital: ChainOfThought<Capital> }
///
/// let trip = Trip {
///     country: Predict::new().with_demos([Country { city: "Lyon".into(), country: "France".into() }]),
///     capital: ChainOfThought::new(),
/// };
/// let prompts = trip.prompts().unwrap();
/// assert_eq!(prompts.predictors.len(), 2);
/// let markdown = prompts.to_markdown();
/// assert!(markdown.contains("## `capital.predict` · Capital"));
/// assert!(markdown.contains("[[ ## city ## ]]\nLyon")); // the demo, as the ChatAdapter writes it
///
/// let path = std::env::temp_dir().join(format!("trip-prompts-{}.md", std::process::id()));
/// trip.export_prompts(&path).unwrap();
/// assert_eq!(std::fs::read_to_string(&path).unwrap(), markdown);
/// # std::fs::remove_file(&path).ok();
/// ```
pub trait ExportPrompts: Parameters {
    /// Every predictor's prompt, in the program's order.
    fn prompts(&self) -> Result<ProgramPrompts> {
        ProgramPrompts::of(self)
    }

    /// Writes every predictor's prompt to `path` as Markdown, atomically.
    fn export_prompts(&self, path: impl AsRef<Path>) -> Result<()> {
        self.prompts()?.write(path)
    }
}

impl<P: Parameters + ?Sized> ExportPrompts for P {}
