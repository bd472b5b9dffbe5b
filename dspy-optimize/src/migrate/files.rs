//! A migration on disk: a folder per model, the comparisons beside them.

use super::{Migration, ModelRun};
use dspy_core::{Error, Result};
use schemars::JsonSchema;
use serde::Serialize;
use std::path::{Path, PathBuf};

impl<E: Serialize, O: Serialize + JsonSchema, R> Migration<E, O, R> {
    /// Writes the migration under `dir` (made if missing), every file atomically:
    ///
    /// ```text
    /// <dir>/summary.txt                    the table (Display)
    /// <dir>/naive-swap.json, .html         the comparison: baseline → the old program on the new model
    /// <dir>/recompiled.json, .html         the comparison: baseline → the re-compiled program
    /// <dir>/<old model>/                   the old program on the old model
    ///     program.json                     its state (Parameters::load reads it)
    ///     report.json, report.html         its evaluation
    ///     prompts.md                       its prompts, as the old model is sent them
    /// <dir>/<new model>/                   the re-compiled program on the new model: the same
    ///                                      four files, and compile.json, compile.html (its CompileReport)
    /// <dir>/<new model>/old-program/       the old program on the new model: the same four files
    /// ```
    ///
    /// A model's folder is its name with every character but letters, digits, `.`, `_` and `-`
    /// made `-` (`openai/gpt-4o-mini` → `openai-gpt-4o-mini`).
    pub fn write(&self, dir: impl AsRef<Path>) -> Result<()> {
        let dir = dir.as_ref();
        let old = dir.join(folder_name(&self.old.model));
        let new = dir.join(folder_name(&self.recompiled.model));
        write_run(&self.old, &old, "compiled for it")?;
        write_run(&self.recompiled, &new, "re-compiled for it")?;
        write_run(
            &self.swap,
            &new.join("old-program"),
            "running the old program",
        )?;
        let report = &self.compiled.report;
        report.save(new.join("compile.json"))?;
        report.write_html(new.join("compile.html"))?;
        for (name, comparison) in [
            ("naive-swap", &self.swap_vs_old),
            ("recompiled", &self.recompiled_vs_old),
        ] {
            comparison.write_json(dir.join(format!("{name}.json")))?;
            comparison.write_html(dir.join(format!("{name}.html")))?;
        }
        let summary = dir.join("summary.txt");
        dspy_core::util::write_atomic(&summary, self.to_string())
            .map_err(|e| Error::data_caused_by(&summary, None, format!("cannot write it: {e}"), e))
    }
}

/// `program.json`, `report.json`, `report.html` and `prompts.md` of one run, in `folder`.
fn write_run<E: Serialize, O: Serialize + JsonSchema>(
    run: &ModelRun<E, O>,
    folder: &Path,
    what: &str,
) -> Result<()> {
    create(folder)?;
    run.state.write(folder.join("program.json"))?;
    run.report.write_json(folder.join("report.json"))?;
    run.report
        .html()
        .title(format!("{}, {what}", run.model))
        .write(folder.join("report.html"))?;
    run.prompts.write(folder.join("prompts.md"))
}

fn create(folder: &Path) -> Result<()> {
    std::fs::create_dir_all(folder).map_err(|e| {
        let message = format!("cannot make the folder: {e}");
        Error::data_caused_by(PathBuf::from(folder), None, message, e)
    })
}

/// A model's name as a folder name: letters, digits, `.`, `_` and `-` kept, the rest `-`.
pub(super) fn folder_name(model: &str) -> String {
    let name: String = model
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-') {
                c
            } else {
                '-'
            }
        })
        .collect();
    match name.trim_matches('.') {
        "" => "model".to_string(),
        _ => name,
    }
}

#[cfg(test)]
mod tests {
    use super::folder_name;

    #[test]
    fn model_names_become_folder_names() {
        assert_eq!(folder_name("openai/gpt-4o-mini"), "openai-gpt-4o-mini");
        assert_eq!(folder_name("gemma-3-270m"), "gemma-3-270m");
        assert_eq!(folder_name(".."), "model");
        assert_eq!(folder_name(""), "model");
    }
}
