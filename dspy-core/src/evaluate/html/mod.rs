//! Report pages: one self-contained HTML file per report (inline CSS and SVG, no script,
//! nothing fetched), for a person to open.
//!
//! [`EvaluationReport::write_html`](super::EvaluationReport::write_html) and
//! [`Comparison::write_html`](super::Comparison::write_html) write the two pages of this crate.
//! The pieces they are built from are public, so other reports (the optimizers' compile
//! report) are built the same way and look the same:
//!
//! - the skeleton: [`Page`] (the document, its one stylesheet, a title and subtitle, a row of
//!   [`Stat`] cards coloured by [`Tone`], then titled sections), [`Table`] and [`details`];
//! - the inline SVG charts: [`BarChart`] (signed deltas or plain values), [`ColumnChart`]
//!   (counts, histograms), [`LineChart`] (a value per trial with the best so far) and
//!   [`interval_chart`] (an estimate and its confidence interval);
//! - small markup: [`fields`] (a JSON object as a field list), [`pill`], [`mono`];
//! - numbers as every page writes them: [`percent`], [`points`], [`p_value`], [`duration`],
//!   [`usage_line`];
//! - [`Html`] and [`escape`], through which every piece of text from data reaches the page.
//!
//! The markup is well-formed XML as well as HTML, so a test can parse a page (with any XML
//! parser) and read the series back from the charts' `data-*` attributes.
//!
//! A compile report's page, for example:
//!
//! ```
//! use dspy_core::evaluate::html::{
//!     Html, LineChart, Page, Stat, Table, Tone, duration, mono, percent, pill,
//! };
//! let trials = [("zero-shot", Some(0.52)), ("bootstrap seed 0", None), ("bootstrap seed 1", Some(0.71))];
//! let scores: Vec<Option<f64>> = trials.iter().map(|t| t.1).collect();
//! let chart = LineChart::new("score per trial")
//!     .domain(0.0, 1.0)
//!     .percent()
//!     .dots("trial score", scores.clone())
//!     .step("best so far", LineChart::best_so_far(scores))
//!     .ring(3, "returned");
//! let mut table = Table::new(["#", "candidate", "score"]).numeric([0, 2]);
//! for (i, (candidate, score)) in trials.iter().enumerate() {
//!     let score = match score {
//!         Some(s) => Html::text(&percent(*s)),
//!         None => pill("failed", Tone::Bad),
//!     };
//!     table.row([mono(&(i + 1).to_string()), Html::text(candidate), score]);
//! }
//! let page = Page::new("Compile report")
//!     .subtitle("BootstrapFewShotWithRandomSearch, seed 0")
//!     .stats([
//!         Stat::new("best score", percent(0.71)).tone(Tone::Accent),
//!         Stat::new("wall time", duration(12_400)),
//!     ])
//!     .section("Score per trial", Some("Dots are trials; the line is the best so far."), chart.render())
//!     .section("Trials", None, table.render());
//! # let dir = std::env::temp_dir().join(format!("dspy-doc-page-{}", std::process::id()));
//! # std::fs::create_dir_all(&dir).unwrap();
//! page.write(dir.join("compile.html")).unwrap();
//! # std::fs::remove_dir_all(dir).ok();
//! ```

mod chart;
mod comparison;
mod evaluation;
mod line;
mod markup;
mod numbers;
mod page;
mod parts;

pub use chart::{BarChart, ColumnChart, interval_chart};
pub use evaluation::EvaluationPage;
pub use line::LineChart;
pub use markup::{Html, escape};
pub use numbers::{duration, p_value, percent, points, usage_line};
pub use page::{Page, Stat, Table, Tone, details};
pub use parts::{fields, mono, pill};
