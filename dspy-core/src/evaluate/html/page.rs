//! The page skeleton every report page shares: the document, its stylesheet, a header, a row
//! of headline numbers, and titled sections.

use super::markup::{Html, escape};
use crate::Result;
use std::path::Path;

/// One self-contained HTML page: inline CSS, inline SVG, no script, nothing fetched.
///
/// The evaluation and comparison pages are built with it, and so can any other report (the
/// optimizers' compile report): a title, an optional subtitle, a row of [`Stat`] cards, then
/// sections with a heading, an optional note and any [`Html`] (tables from [`Table`], charts
/// from [`BarChart`](super::BarChart), [`ColumnChart`](super::ColumnChart), [`LineChart`](super::LineChart)).
/// The markup is also well-formed XML, so tests can parse it.
///
/// ```
/// use dspy_core::evaluate::html::{Html, Page, Stat, Table, Tone};
/// let mut table = Table::new(["trial", "score"]).numeric([1]);
/// table.row([Html::text("1"), Html::text("71.0%")]);
/// let page = Page::new("Compile report")
///     .subtitle("MIPROv2 on TREC")
///     .stats([Stat::new("best score", "74.5%").tone(Tone::Good)])
///     .section("Trials", Some("every candidate the optimizer tried"), table.render());
/// let html = page.render();
/// assert!(html.starts_with("<!DOCTYPE html>"));
/// assert!(html.contains("<h2>Trials</h2>"));
/// ```
#[derive(Debug, Clone, Default)]
pub struct Page {
    title: String,
    subtitle: Option<String>,
    stats: Vec<Stat>,
    sections: Vec<Html>,
}

impl Page {
    /// An empty page titled `title`.
    pub fn new(title: impl Into<String>) -> Self {
        Page {
            title: title.into(),
            ..Page::default()
        }
    }

    /// The line under the title.
    #[must_use]
    pub fn subtitle(mut self, text: impl Into<String>) -> Self {
        self.subtitle = Some(text.into());
        self
    }

    /// Adds headline numbers, shown as cards under the title.
    #[must_use]
    pub fn stats(mut self, stats: impl IntoIterator<Item = Stat>) -> Self {
        self.stats.extend(stats);
        self
    }

    /// Adds a section: a heading, an optional note under it, and its content.
    #[must_use]
    pub fn section(mut self, heading: &str, note: Option<&str>, content: Html) -> Self {
        let note = note
            .map(|n| format!("<p class=\"note\">{}</p>", escape(n)))
            .unwrap_or_default();
        self.sections.push(Html::markup(format!(
            "<section><h2>{}</h2>{note}{content}</section>",
            escape(heading)
        )));
        self
    }

    /// The whole document.
    pub fn render(&self) -> String {
        let subtitle = self
            .subtitle
            .as_deref()
            .map(|s| format!("<p class=\"subtitle\">{}</p>", escape(s)))
            .unwrap_or_default();
        let stats: Html = self.stats.iter().map(Stat::render).collect();
        let stats = if self.stats.is_empty() {
            String::new()
        } else {
            format!("<div class=\"stats\">{stats}</div>")
        };
        let sections: Html = self.sections.iter().cloned().collect();
        format!(
            "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"/>\
             <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\"/>\
             <title>{title}</title><style>{STYLE}</style></head>\
             <body><main><header><h1>{title}</h1>{subtitle}</header>{stats}{sections}\
             <footer>Written by dspy-rs. Self-contained: no scripts, nothing loaded from the network.</footer>\
             </main></body></html>\n",
            title = escape(&self.title),
        )
    }

    /// Writes [`render`](Page::render) to `path`, atomically.
    pub fn write(&self, path: impl AsRef<Path>) -> Result<()> {
        crate::evaluate::files::write(path.as_ref(), self.render().as_bytes())
    }
}

/// How a [`Stat`] card is coloured.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Tone {
    /// Plain.
    #[default]
    Neutral,
    /// The main number of the page.
    Accent,
    /// Better (green).
    Good,
    /// Worse (red).
    Bad,
}

impl Tone {
    /// The tone's CSS class: `neutral`, `accent`, `good` or `bad`.
    pub fn name(self) -> &'static str {
        match self {
            Tone::Neutral => "neutral",
            Tone::Accent => "accent",
            Tone::Good => "good",
            Tone::Bad => "bad",
        }
    }
}

/// A headline number: a label, the value, an optional detail line under it.
///
/// ```
/// use dspy_core::evaluate::html::{Stat, Tone};
/// let card = Stat::new("Δ score", "+4.0 pts").detail("95% CI [+1.0, +7.0]").tone(Tone::Good);
/// assert!(card.render().as_str().contains("95% CI"));
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct Stat {
    label: String,
    value: String,
    detail: Option<String>,
    tone: Tone,
}

impl Stat {
    /// A neutral card.
    pub fn new(label: impl Into<String>, value: impl Into<String>) -> Self {
        Stat {
            label: label.into(),
            value: value.into(),
            detail: None,
            tone: Tone::Neutral,
        }
    }

    /// The line under the value.
    #[must_use]
    pub fn detail(mut self, detail: impl Into<String>) -> Self {
        self.detail = Some(detail.into());
        self
    }

    /// The card's colour.
    #[must_use]
    pub fn tone(mut self, tone: Tone) -> Self {
        self.tone = tone;
        self
    }

    /// The card's markup.
    pub fn render(&self) -> Html {
        let detail = self
            .detail
            .as_deref()
            .map(|d| format!("<div class=\"detail\">{}</div>", escape(d)))
            .unwrap_or_default();
        Html::markup(format!(
            "<div class=\"{}\"><div class=\"label\">{}</div><div class=\"value\">{}</div>{detail}</div>",
            match self.tone {
                Tone::Neutral => "stat".to_string(),
                tone => format!("stat {}", tone.name()),
            },
            escape(&self.label),
            escape(&self.value),
        ))
    }
}

/// A table: a header row, then rows of cells; numeric columns are right-aligned in tabular
/// figures.
#[derive(Debug, Clone, Default)]
pub struct Table {
    headers: Vec<String>,
    numeric: Vec<usize>,
    widths: Vec<u32>,
    class: String,
    rows: Vec<Html>,
}

impl Table {
    /// A table with these column headers.
    pub fn new<S: Into<String>>(headers: impl IntoIterator<Item = S>) -> Self {
        Table {
            headers: headers.into_iter().map(Into::into).collect(),
            ..Table::default()
        }
    }

    /// Right-aligns these columns (0-based).
    #[must_use]
    pub fn numeric(mut self, columns: impl IntoIterator<Item = usize>) -> Self {
        self.numeric.extend(columns);
        self
    }

    /// Fixes the columns' widths, in percent of the table's width (long text then wraps
    /// inside its column instead of widening it).
    #[must_use]
    pub fn widths(mut self, percents: impl IntoIterator<Item = u32>) -> Self {
        self.widths = percents.into_iter().collect();
        self
    }

    /// A class on the `<table>`, for tests and styling (e.g. `fixed`).
    #[must_use]
    pub fn class(mut self, class: impl Into<String>) -> Self {
        self.class = class.into();
        self
    }

    /// Adds a row of cells.
    pub fn row(&mut self, cells: impl IntoIterator<Item = Html>) {
        self.row_with_class("", cells);
    }

    /// Adds a row of cells with a class on its `<tr>`.
    pub fn row_with_class(&mut self, class: &str, cells: impl IntoIterator<Item = Html>) {
        let cells: Html = cells
            .into_iter()
            .enumerate()
            .map(|(i, cell)| Html::tag("td", self.align(i), cell))
            .collect();
        self.rows.push(Html::tag("tr", class, cells));
    }

    /// How many rows were added.
    pub fn len(&self) -> usize {
        self.rows.len()
    }

    /// Whether no row was added.
    pub fn is_empty(&self) -> bool {
        self.rows.is_empty()
    }

    /// The table's markup.
    pub fn render(&self) -> Html {
        let head: Html = self
            .headers
            .iter()
            .enumerate()
            .map(|(i, h)| Html::tag("th", self.align(i), Html::text(h)))
            .collect();
        let body: Html = self.rows.iter().cloned().collect();
        let mut class = self.class.clone();
        let mut columns: String = self
            .widths
            .iter()
            .map(|w| format!("<col style=\"width:{w}%\"/>"))
            .collect();
        if !columns.is_empty() {
            class.push_str(" fixed-layout");
            columns = format!("<colgroup>{columns}</colgroup>");
        }
        let table = Html::markup(format!(
            "{columns}<thead><tr>{head}</tr></thead><tbody>{body}</tbody>"
        ));
        Html::tag("div", "table-wrap", Html::tag("table", class.trim(), table))
    }

    fn align(&self, column: usize) -> &'static str {
        if self.numeric.contains(&column) {
            "num"
        } else {
            ""
        }
    }
}

/// A collapsed block the reader can open (`<details>`, no script).
pub fn details(summary: &str, content: Html) -> Html {
    Html::markup(format!(
        "<details><summary>{}</summary>{content}</details>",
        escape(summary)
    ))
}

/// The stylesheet (kept free of `<` and `&` so the document stays well-formed XML).
const STYLE: &str = r#"
:root { --fg: #1f2328; --muted: #656d76; --line: #d8dee4; --bg: #f6f8fa; --card: #ffffff;
  --accent: #0969da; --good: #1a7f37; --bad: #cf222e; --good-bg: #dafbe1; --bad-bg: #ffebe9; }
* { box-sizing: border-box; }
body { margin: 0; background: var(--bg); color: var(--fg);
  font: 14px/1.5 -apple-system, BlinkMacSystemFont, "Segoe UI", "Noto Sans", Helvetica, Arial, sans-serif; }
main { max-width: 1180px; margin: 0 auto; padding: 28px 32px 40px; }
header h1 { margin: 0; font-size: 26px; font-weight: 600; letter-spacing: -0.01em; }
.subtitle { margin: 4px 0 0; color: var(--muted); }
.stats { display: flex; flex-wrap: wrap; gap: 12px; margin: 22px 0 8px; }
.stat { flex: 1 1 150px; background: var(--card); border: 1px solid var(--line); border-radius: 8px;
  padding: 12px 16px; border-top: 3px solid var(--line); }
.stat.accent { border-top-color: var(--accent); }
.stat.good { border-top-color: var(--good); }
.stat.bad { border-top-color: var(--bad); }
.stat .label { color: var(--muted); font-size: 12px; text-transform: uppercase; letter-spacing: 0.04em; }
.stat .value { font-size: 24px; font-weight: 600; font-variant-numeric: tabular-nums; }
.stat.good .value { color: var(--good); }
.stat.bad .value { color: var(--bad); }
.stat .detail { color: var(--muted); font-size: 12px; }
section { background: var(--card); border: 1px solid var(--line); border-radius: 8px;
  padding: 18px 20px; margin-top: 18px; }
section h2 { margin: 0 0 4px; font-size: 17px; font-weight: 600; }
.note { margin: 0 0 12px; color: var(--muted); font-size: 13px; }
.table-wrap { overflow-x: auto; }
table { border-collapse: collapse; width: 100%; font-size: 13px; }
th, td { padding: 6px 10px; border-bottom: 1px solid var(--line); text-align: left; vertical-align: top; }
th { background: var(--bg); font-weight: 600; white-space: nowrap; }
tbody tr:nth-child(even) { background: #fbfcfd; }
tbody tr.best { background: #ddf4ff; }
table.fixed-layout { table-layout: fixed; }
/* Fixed columns are only so wide: a long header (a model's name) wraps rather than overlaps. */
table.fixed-layout th:not(.num) { white-space: normal; overflow-wrap: anywhere; }
td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
.kv { margin: 0; display: grid; grid-template-columns: max-content 1fr; gap: 1px 8px; }
.kv dt { color: var(--muted); }
.kv dd { margin: 0; white-space: pre-wrap; word-break: break-word; }
.mono { font-family: ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; font-size: 12px; color: var(--muted); }
.error { color: var(--bad); white-space: pre-wrap; word-break: break-word; }
.pill { display: inline-block; padding: 0 8px; border-radius: 10px; font-size: 12px; font-weight: 600; }
.pill.good { background: var(--good-bg); color: var(--good); }
.pill.bad { background: var(--bad-bg); color: var(--bad); }
.pill.neutral { background: var(--bg); color: var(--muted); }
.pill.accent { background: #ddf4ff; color: var(--accent); }
table.confusion { width: auto; }
table.confusion td, table.confusion th { text-align: center; min-width: 64px; }
table.confusion th.gold { text-align: right; }
table.confusion td.zero { color: #afb8c1; }
.charts { display: flex; flex-wrap: wrap; gap: 24px; align-items: flex-start; }
svg { max-width: 100%; height: auto; font-family: inherit; }
svg text { fill: var(--fg); font-size: 12px; }
svg .axis { stroke: var(--muted); stroke-width: 1; }
svg .grid { stroke: var(--line); stroke-width: 1; }
svg .muted { fill: var(--muted); }
svg rect.pos { fill: #2da44e; } svg rect.neg { fill: #e5534b; } svg rect.plain { fill: #4c8dd6; }
svg .ci { stroke: #0969da; stroke-width: 3; } svg circle.est { fill: #0969da; }
svg text.value { font-variant-numeric: tabular-nums; }
svg .s0 { fill: #4c8dd6; stroke: #4c8dd6; } svg .s1 { fill: #1a7f37; stroke: #1a7f37; }
svg .s2 { fill: #bf8700; stroke: #bf8700; } svg .s3 { fill: #8250df; stroke: #8250df; }
svg path.step, svg line.step { fill: none; stroke-width: 2.5; }
svg circle.dot { stroke: none; opacity: 0.85; }
svg g.ring circle { fill: none; stroke: #cf222e; stroke-width: 2; }
details { margin-top: 8px; }
summary { cursor: pointer; color: var(--accent); }
footer { margin-top: 28px; color: var(--muted); font-size: 12px; text-align: center; }
"#;
