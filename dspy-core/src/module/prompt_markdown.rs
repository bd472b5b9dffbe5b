//! A [`PromptView`] as Markdown: its fields, its instructions, and its prompt message by
//! message, each demo under a heading.

use super::prompt_view::{DemoView, PromptPart, PromptView};
use crate::adapter::{Prompt, Role};
use crate::signature::FieldSpec;
use std::fmt::{self, Write as _};

/// Markdown: a `##` heading with the predictor's name, then `###` sections for the
/// instructions, the fields and the prompt (each demo under a `####` heading).
impl fmt::Display for PromptView {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut out = String::new();
        self.write_markdown(&mut out)?;
        f.write_str(&out)
    }
}

impl PromptView {
    fn write_markdown(&self, out: &mut String) -> fmt::Result {
        let sig = &self.signature;
        match &self.predictor {
            Some(name) => writeln!(out, "## `{name}` · {}\n", sig.name)?,
            None => writeln!(out, "## {}\n", sig.name)?,
        }
        writeln!(out, "{}\n", self.summary())?;
        let whose = if self.own_instructions {
            "the predictor's own"
        } else {
            "the signature's"
        };
        writeln!(out, "### Instructions ({whose})\n")?;
        writeln!(out, "{}\n", fenced(&self.instructions, "text"))?;
        writeln!(out, "### Fields\n")?;
        writeln!(
            out,
            "| role | field | type | description |\n| --- | --- | --- | --- |"
        )?;
        for (role, fields) in [("input", &sig.inputs), ("output", &sig.outputs)] {
            for field in fields {
                writeln!(out, "{}", field_row(role, field))?;
            }
        }
        writeln!(out, "\n### Prompt\n")?;
        writeln!(out, "{}\n", self.prompt_note())?;
        for part in &self.parts {
            self.write_part(out, part)?;
        }
        self.write_extras(out)
    }

    /// `ChatAdapter · 3 demos (2 complete, 1 partial)`.
    fn summary(&self) -> String {
        let partial = self.demos.iter().filter(|d| !d.is_complete()).count();
        let demos = match (self.demos.len(), partial) {
            (0, _) => "no demos".to_string(),
            (n, 0) => format!("{n} demo{}", plural(n)),
            (n, p) => format!("{n} demo{} ({} complete, {p} partial)", plural(n), n - p),
        };
        format!("{} · {demos}", self.adapter)
    }

    fn prompt_note(&self) -> String {
        let layout = match &self.formatted.prompt {
            Prompt::Chat(messages) => format!(
                "{} message{}, as the LM is sent them",
                messages.len(),
                plural(messages.len())
            ),
            Prompt::Text(_) => {
                "One completion text: these blocks, joined by a blank line".to_string()
            }
        };
        let mut note = format!("{layout}; input fields are shown as `{{name}}` placeholders.");
        if !self.formatted.stop.is_empty() {
            let stops: Vec<String> = self
                .formatted
                .stop
                .iter()
                .map(|s| format!("{s:?}"))
                .collect();
            let _ = write!(note, " Stop sequences: {}.", stops.join(", "));
        }
        note
    }

    fn write_part(&self, out: &mut String, part: &PromptPart) -> fmt::Result {
        match part {
            PromptPart::Preamble(_) => {}
            PromptPart::Demo { demo, .. } => match self.demos.get(*demo) {
                Some(view) => {
                    writeln!(out, "#### {}\n", demo_heading(view, self.demos.len()))?;
                    // Where it came from, as saved: an optimizer's demo says, a hand-made one
                    // has nothing to say.
                    if let Some(provenance) = &view.state.provenance {
                        writeln!(out, "_{provenance}._\n")?;
                    }
                }
                None => writeln!(out, "#### Demo\n")?,
            },
            PromptPart::Demos(_) => writeln!(out, "#### Demos\n")?,
            PromptPart::Input(_) => writeln!(out, "#### Input\n")?,
        }
        write_prompt(out, part.prompt())
    }

    /// Demos the adapter left out, and the answer schema.
    fn write_extras(&self, out: &mut String) -> fmt::Result {
        for demo in self.demos.iter().filter(|d| !d.shown) {
            writeln!(
                out,
                "Not shown by {}: {} (it has no input or no output field).\n",
                self.adapter,
                demo_heading(demo, self.demos.len())
            )?;
        }
        if let Some(schema) = &self.formatted.response_schema {
            let json = serde_json::to_string_pretty(&schema.schema).unwrap_or_default();
            writeln!(
                out,
                "<details><summary>Answer schema <code>{}</code>, sent when the LM honours \
                 one</summary>\n\n{}\n\n</details>\n",
                schema.name,
                fenced(&json, "json")
            )?;
        }
        Ok(())
    }
}

/// The heading of a demo: which one, and whether it is complete. The one place that says what
/// a demo is, for every page that lists demos.
fn demo_heading(demo: &DemoView, total: usize) -> String {
    let kind = if demo.is_complete() {
        "complete".to_string()
    } else {
        let missing: Vec<String> = demo.missing.iter().map(|m| format!("`{m}`")).collect();
        format!("partial, lacks {}", missing.join(", "))
    };
    format!("Demo {} of {total} · {kind}", demo.position + 1)
}

fn field_row(role: &str, field: &FieldSpec) -> String {
    format!(
        "| {role} | `{}` | `{}` | {} |",
        field.name,
        cell(&field.type_hint),
        cell(&field.desc)
    )
}

/// Text safe inside one table cell.
fn cell(text: &str) -> String {
    text.replace('|', "\\|").replace('\n', " ")
}

fn write_prompt(out: &mut String, prompt: &Prompt) -> fmt::Result {
    match prompt {
        Prompt::Text(text) => writeln!(out, "{}\n", fenced(text, "text")),
        Prompt::Chat(messages) => {
            for message in messages {
                writeln!(out, "**{}**\n", role(message.role))?;
                writeln!(out, "{}\n", fenced(&message.content, "text"))?;
            }
            Ok(())
        }
    }
}

fn role(role: Role) -> &'static str {
    match role {
        Role::System => "system",
        Role::User => "user",
        Role::Assistant => "assistant",
    }
}

/// `text` in a code fence longer than any run of backticks inside it, so it shows verbatim.
fn fenced(text: &str, lang: &str) -> String {
    let longest = text.split(|c| c != '`').map(str::len).max().unwrap_or(0);
    let fence = "`".repeat(longest.max(2) + 1);
    format!("{fence}{lang}\n{text}\n{fence}")
}

fn plural(n: usize) -> &'static str {
    if n == 1 { "" } else { "s" }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_fence_outgrows_the_backticks_inside() {
        assert_eq!(fenced("a", "text"), "```text\na\n```");
        assert_eq!(fenced("x ```` y", ""), "`````\nx ```` y\n`````");
    }

    #[test]
    fn cells_keep_to_one_line() {
        assert_eq!(cell("a|b\nc"), "a\\|b c");
    }
}
