//! Report pages: one self-contained HTML file per report (inline CSS and SVG, no script,
//! nothing fetched), for a person to open.
//!
//! [`EvaluationReport::write_html`](super::EvaluationReport::write_html) and
//! [`Comparison::write_html`](super::Comparison::write_html) write the two pages of this crate.
//! The pieces they are built from are public so other reports (the optimizers' compile report)
//! look the same: [`Page`] (the document, its stylesheet and sections), [`Stat`] cards,
//! [`Table`], the SVG charts [`BarChart`], [`ColumnChart`] and [`interval_chart`], and
//! [`Html`]/[`escape`], through which every piece of text from data reaches the page.
//!
//! ```
//! use dspy_core::evaluate::html::{BarChart, Html, Page, Stat, Tone};
//! let chart = BarChart::new("score per trial").plain().domain(0.0, 1.0)
//!     .bar("trial 1", 0.62, "62.0%")
//!     .bar("trial 2", 0.71, "71.0%");
//! let page = Page::new("Compile report")
//!     .stats([Stat::new("best", "71.0%").tone(Tone::Accent)])
//!     .section("Trials", None, chart.render());
//! # let dir = std::env::temp_dir().join(format!("dspy-doc-page-{}", std::process::id()));
//! # std::fs::create_dir_all(&dir).unwrap();
//! page.write(dir.join("compile.html")).unwrap();
//! # std::fs::remove_dir_all(dir).ok();
//! ```

mod chart;
mod comparison;
mod evaluation;
mod markup;
mod page;
mod parts;

pub use chart::{BarChart, ColumnChart, interval_chart};
pub use evaluation::EvaluationPage;
pub use markup::{Html, escape};
pub use page::{Page, Stat, Table, Tone, details};
