//! Inline SVG charts: horizontal bars (signed or not), columns, and an interval on an axis.
//!
//! Every mark carries `data-label` and `data-value`, so a test (or a script) can read the
//! series back from the page.

use super::markup::{Html, escape};
use std::fmt::Write as _;

const ROW: f64 = 26.0;
const LABEL_WIDTH: f64 = 170.0;
const VALUE_WIDTH: f64 = 90.0;

/// A horizontal bar chart; values of both signs get a zero line, green bars right of it and
/// red left of it (for deltas), unless [`plain`](BarChart::plain).
///
/// ```
/// use dspy_core::evaluate::html::BarChart;
/// let svg = BarChart::new("Δ per class")
///     .bar("human", 0.12, "+12.0")
///     .bar("number", -0.05, "−5.0")
///     .render();
/// assert!(svg.as_str().contains("data-label=\"human\""));
/// ```
#[derive(Debug, Clone)]
pub struct BarChart {
    title: String,
    bars: Vec<(String, f64, String)>,
    domain: Option<(f64, f64)>,
    plain: bool,
    width: f64,
}

impl BarChart {
    /// An empty chart described by `title` (read by screen readers).
    pub fn new(title: impl Into<String>) -> Self {
        BarChart {
            title: title.into(),
            bars: Vec::new(),
            domain: None,
            plain: false,
            width: 640.0,
        }
    }

    /// Adds a bar: its label, its value, and the text shown beside it.
    #[must_use]
    pub fn bar(mut self, label: impl Into<String>, value: f64, text: impl Into<String>) -> Self {
        self.bars.push((label.into(), value, text.into()));
        self
    }

    /// The value range of the axis (by default from the data, always including zero).
    #[must_use]
    pub fn domain(mut self, low: f64, high: f64) -> Self {
        self.domain = Some((low, high));
        self
    }

    /// One colour for every bar (for values that are not gains and losses).
    #[must_use]
    pub fn plain(mut self) -> Self {
        self.plain = true;
        self
    }

    /// The chart's width in pixels (640 by default).
    #[must_use]
    pub fn width(mut self, width: f64) -> Self {
        self.width = width.max(LABEL_WIDTH + VALUE_WIDTH + 60.0);
        self
    }

    /// The chart as an `<svg>` element.
    pub fn render(&self) -> Html {
        let (low, high) = self.domain.unwrap_or_else(|| {
            let lo = self.bars.iter().map(|b| b.1).fold(0.0, f64::min);
            let hi = self.bars.iter().map(|b| b.1).fold(0.0, f64::max);
            if lo == hi { (0.0, 1.0) } else { (lo, hi) }
        });
        let plot = self.width - LABEL_WIDTH - VALUE_WIDTH;
        let x = |v: f64| LABEL_WIDTH + plot * ((v - low) / (high - low)).clamp(0.0, 1.0);
        let height = ROW * self.bars.len() as f64 + 8.0;
        let mut svg = open_svg(self.width, height, &self.title, "bar-chart");
        for (i, (label, value, text)) in self.bars.iter().enumerate() {
            let top = 4.0 + ROW * i as f64;
            let (x0, x1) = (x(0.0_f64.clamp(low, high)), x(*value));
            let class = match (self.plain, *value < 0.0) {
                (true, _) => "plain",
                (false, true) => "neg",
                (false, false) => "pos",
            };
            let _ = write!(
                svg,
                "<g class=\"bar\" data-label=\"{l}\" data-value=\"{value}\">\
                 <text x=\"{lx}\" y=\"{ty:.1}\" text-anchor=\"end\">{l}</text>\
                 <rect class=\"{class}\" x=\"{rx:.1}\" y=\"{ry:.1}\" width=\"{w:.1}\" height=\"{h:.1}\" rx=\"2\"/>\
                 <text class=\"value\" x=\"{vx:.1}\" y=\"{ty:.1}\">{t}</text></g>",
                l = escape(label),
                lx = LABEL_WIDTH - 8.0,
                ty = top + ROW / 2.0 + 4.0,
                rx = x0.min(x1),
                ry = top + 4.0,
                w = (x1 - x0).abs().max(1.0),
                h = ROW - 8.0,
                vx = x0.max(x1) + 6.0,
                t = escape(text),
            );
        }
        let zero = x(0.0_f64.clamp(low, high));
        let _ = write!(
            svg,
            "<line class=\"axis\" x1=\"{zero:.1}\" x2=\"{zero:.1}\" y1=\"0\" y2=\"{height:.1}\"/></svg>"
        );
        Html::markup(svg)
    }
}

/// A vertical column chart: one column per category (a histogram when the categories are
/// bins).
///
/// ```
/// use dspy_core::evaluate::html::ColumnChart;
/// let svg = ColumnChart::new("scores").column("0", 12.0).column("1", 30.0).render();
/// assert!(svg.as_str().contains("data-value=\"30\""));
/// ```
#[derive(Debug, Clone)]
pub struct ColumnChart {
    title: String,
    columns: Vec<(String, f64)>,
    width: f64,
    height: f64,
}

impl ColumnChart {
    /// An empty chart described by `title`.
    pub fn new(title: impl Into<String>) -> Self {
        ColumnChart {
            title: title.into(),
            columns: Vec::new(),
            width: 520.0,
            height: 220.0,
        }
    }

    /// Adds a column.
    #[must_use]
    pub fn column(mut self, label: impl Into<String>, value: f64) -> Self {
        self.columns.push((label.into(), value));
        self
    }

    /// The chart's size in pixels (520 × 220 by default).
    #[must_use]
    pub fn size(mut self, width: f64, height: f64) -> Self {
        self.width = width.max(120.0);
        self.height = height.max(80.0);
        self
    }

    /// The chart as an `<svg>` element.
    pub fn render(&self) -> Html {
        let (left, bottom, top) = (36.0, 36.0, 18.0);
        let max = self.columns.iter().map(|c| c.1).fold(0.0, f64::max);
        let max = if max > 0.0 { max } else { 1.0 };
        let plot_h = self.height - bottom - top;
        let slot = (self.width - left) / self.columns.len().max(1) as f64;
        let mut svg = open_svg(self.width, self.height, &self.title, "column-chart");
        let base = self.height - bottom;
        for tick in [0.0, 0.5, 1.0] {
            let y = base - plot_h * tick;
            let _ = write!(
                svg,
                "<line class=\"grid\" x1=\"{left}\" x2=\"{w}\" y1=\"{y:.1}\" y2=\"{y:.1}\"/>\
                 <text class=\"muted\" x=\"{tx}\" y=\"{ty:.1}\" text-anchor=\"end\">{v}</text>",
                w = self.width,
                tx = left - 6.0,
                ty = y + 4.0,
                v = trim(max * tick),
            );
        }
        for (i, (label, value)) in self.columns.iter().enumerate() {
            let h = plot_h * value / max;
            let cx = left + slot * (i as f64 + 0.5);
            let _ = write!(
                svg,
                "<g class=\"column\" data-label=\"{l}\" data-value=\"{value}\">\
                 <rect class=\"plain\" x=\"{x:.1}\" y=\"{y:.1}\" width=\"{bw:.1}\" height=\"{h:.1}\" rx=\"2\"/>\
                 <text class=\"value\" x=\"{cx:.1}\" y=\"{vy:.1}\" text-anchor=\"middle\">{v}</text>\
                 <text class=\"muted\" x=\"{cx:.1}\" y=\"{ly:.1}\" text-anchor=\"middle\">{l}</text></g>",
                l = escape(label),
                x = cx - slot * 0.38,
                y = base - h,
                bw = slot * 0.76,
                vy = base - h - 4.0,
                v = trim(*value),
                ly = base + 16.0,
            );
        }
        let _ = write!(
            svg,
            "<line class=\"axis\" x1=\"{left}\" x2=\"{w}\" y1=\"{base:.1}\" y2=\"{base:.1}\"/></svg>",
            w = self.width
        );
        Html::markup(svg)
    }
}

/// An estimate and its interval on a horizontal axis with a zero line: a difference and its
/// confidence interval at a glance.
///
/// ```
/// let svg = dspy_core::evaluate::html::interval_chart("Δ", 4.0, -1.0, 9.0, "pts");
/// assert!(svg.as_str().contains("data-low=\"-1\""));
/// ```
pub fn interval_chart(title: &str, estimate: f64, low: f64, high: f64, unit: &str) -> Html {
    let (width, height, pad) = (1040.0, 86.0, 48.0);
    let largest = [estimate, low, high]
        .iter()
        .fold(0.0_f64, |m, v| m.max(v.abs()));
    let reach = [1.0, 2.0, 5.0, 10.0, 20.0, 25.0, 50.0, 100.0]
        .into_iter()
        .find(|r| *r >= largest * 1.1)
        .unwrap_or(largest * 1.1);
    let x = |v: f64| pad + (width - 2.0 * pad) * (v + reach) / (2.0 * reach);
    let mut svg = open_svg(width, height, title, "interval-chart");
    let y = 34.0;
    let _ = write!(
        svg,
        "<line class=\"grid\" x1=\"{pad}\" x2=\"{r}\" y1=\"{y}\" y2=\"{y}\"/>",
        r = width - pad
    );
    for tick in [-1.0, -0.5, 0.0, 0.5, 1.0] {
        let (tx, v) = (x(tick * reach), tick * reach);
        let text = if v > 0.0 {
            format!("+{}", trim(v))
        } else {
            trim(v)
        };
        let class = if tick == 0.0 { "axis" } else { "grid" };
        let _ = write!(
            svg,
            "<line class=\"{class}\" x1=\"{tx:.1}\" x2=\"{tx:.1}\" y1=\"12\" y2=\"56\"/>\
             <text class=\"muted\" x=\"{tx:.1}\" y=\"78\" text-anchor=\"middle\">{}</text>",
            escape(&format!("{text} {unit}"))
        );
    }
    let _ = write!(
        svg,
        "<g class=\"interval\" data-estimate=\"{estimate}\" data-low=\"{low}\" data-high=\"{high}\">\
         <line class=\"ci\" x1=\"{lx:.1}\" x2=\"{hx:.1}\" y1=\"{y}\" y2=\"{y}\"/>\
         <line class=\"ci\" x1=\"{lx:.1}\" x2=\"{lx:.1}\" y1=\"{t}\" y2=\"{b}\"/>\
         <line class=\"ci\" x1=\"{hx:.1}\" x2=\"{hx:.1}\" y1=\"{t}\" y2=\"{b}\"/>\
         <circle class=\"est\" cx=\"{ex:.1}\" cy=\"{y}\" r=\"6\"/>\
         <text x=\"{ex:.1}\" y=\"20\" text-anchor=\"middle\">{est}</text>\
         <text class=\"muted\" x=\"{lx:.1}\" y=\"{ly}\" text-anchor=\"end\">{lt}</text>\
         <text class=\"muted\" x=\"{hx:.1}\" y=\"{ly}\" text-anchor=\"start\">{ht}</text></g></svg>",
        lx = x(low),
        hx = x(high),
        ex = x(estimate),
        t = y - 8.0,
        b = y + 8.0,
        ly = y + 20.0,
        est = escape(&format!("{estimate:+.1} {unit}")),
        lt = escape(&format!("{low:+.1}")),
        ht = escape(&format!("{high:+.1}")),
    );
    Html::markup(svg)
}

pub(super) fn open_svg(width: f64, height: f64, title: &str, class: &str) -> String {
    format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" class=\"{class}\" width=\"{width:.0}\" \
         height=\"{height:.0}\" viewBox=\"0 0 {width:.0} {height:.0}\" role=\"img\">\
         <title>{}</title>",
        escape(title)
    )
}

/// A number without trailing zeros: `12`, `0.5`, `1.25`.
pub(super) fn trim(value: f64) -> String {
    let text = format!("{value:.2}");
    let text = text.trim_end_matches('0').trim_end_matches('.');
    if text == "-0" {
        "0".into()
    } else {
        text.into()
    }
}
