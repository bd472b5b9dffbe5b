//! A line chart over positions 1..n: a score per trial as dots, the best so far as a step
//! line, the chosen trial ringed.

use super::chart::{open_svg, trim};
use super::markup::{Html, escape};
use std::fmt::Write as _;

const LEFT: f64 = 52.0;
const RIGHT: f64 = 16.0;
const TOP: f64 = 30.0;
const BOTTOM: f64 = 36.0;

/// A chart of values over positions `1..=n` (trials, rounds, steps): each series either dots
/// or a step line, with gaps where a value is missing, and optionally one position ringed and
/// labelled (the candidate an optimizer returned).
///
/// Every mark carries `data-series`, `data-x` and `data-value`, so a test can read the series
/// back from the page.
///
/// ```
/// use dspy_core::evaluate::html::LineChart;
/// let scores = [Some(0.52), None, Some(0.61), Some(0.58), Some(0.66)];
/// let svg = LineChart::new("score per trial")
///     .domain(0.0, 1.0)
///     .percent()
///     .dots("trial score", scores)
///     .step("best so far", LineChart::best_so_far(scores))
///     .ring(5, "returned")
///     .render();
/// assert!(svg.as_str().contains("data-series=\"best so far\""));
/// assert!(svg.as_str().contains("data-x=\"5\" data-value=\"0.66\""));
/// ```
#[derive(Debug, Clone)]
pub struct LineChart {
    title: String,
    series: Vec<Series>,
    domain: Option<(f64, f64)>,
    percent: bool,
    ring: Option<(usize, String)>,
    origin: usize,
    width: f64,
    height: f64,
}

#[derive(Debug, Clone)]
struct Series {
    name: String,
    values: Vec<Option<f64>>,
    step: bool,
}

impl LineChart {
    /// An empty chart described by `title` (read by screen readers).
    pub fn new(title: impl Into<String>) -> Self {
        LineChart {
            title: title.into(),
            series: Vec::new(),
            domain: None,
            percent: false,
            ring: None,
            width: 1040.0,
            origin: 1,
            height: 280.0,
        }
    }

    /// Adds a series drawn as dots; `values[i]` is at position `i + 1` (`None`: no dot).
    #[must_use]
    pub fn dots<V: Into<Option<f64>>>(
        self,
        name: impl Into<String>,
        values: impl IntoIterator<Item = V>,
    ) -> Self {
        self.series(name.into(), values, false)
    }

    /// Adds a series drawn as a step line (level until the next value), e.g. the best so far.
    #[must_use]
    pub fn step<V: Into<Option<f64>>>(
        self,
        name: impl Into<String>,
        values: impl IntoIterator<Item = V>,
    ) -> Self {
        self.series(name.into(), values, true)
    }

    /// Rings the first series' value at `position` (1-based) and writes `label` above it.
    #[must_use]
    pub fn ring(mut self, position: usize, label: impl Into<String>) -> Self {
        self.ring = Some((position, label.into()));
        self
    }

    /// Numbers the positions from `first` (default 1): from 0, position `i` is `values[i]`,
    /// as a report's 0-based trial indices are. Labels, `data-x` and [`ring`](Self::ring) use
    /// this numbering.
    ///
    /// ```
    /// use dspy_core::evaluate::html::LineChart;
    /// let svg = LineChart::new("t").numbered_from(0).dots("v", [0.5, 0.7]).ring(1, "best").render();
    /// assert!(svg.as_str().contains("data-x=\"0\" data-value=\"0.5\""));
    /// assert!(svg.as_str().contains("class=\"ring\" data-x=\"1\""));
    /// ```
    #[must_use]
    pub fn numbered_from(mut self, first: usize) -> Self {
        self.origin = first;
        self
    }

    /// The value range of the y axis (by default the data's, padded).
    #[must_use]
    pub fn domain(mut self, low: f64, high: f64) -> Self {
        self.domain = Some((low, high));
        self
    }

    /// Labels the y axis in percent (values are fractions).
    #[must_use]
    pub fn percent(mut self) -> Self {
        self.percent = true;
        self
    }

    /// The chart's size in pixels (1040 × 280 by default).
    #[must_use]
    pub fn size(mut self, width: f64, height: f64) -> Self {
        self.width = width.max(LEFT + RIGHT + 120.0);
        self.height = height.max(TOP + BOTTOM + 60.0);
        self
    }

    /// The running maximum of `values`: at each position the best value so far (`None`
    /// until the first value).
    ///
    /// ```
    /// use dspy_core::evaluate::html::LineChart;
    /// let best = LineChart::best_so_far([None, Some(0.5), Some(0.4), None, Some(0.7)]);
    /// assert_eq!(best, [None, Some(0.5), Some(0.5), Some(0.5), Some(0.7)]);
    /// ```
    pub fn best_so_far<V: Into<Option<f64>>>(
        values: impl IntoIterator<Item = V>,
    ) -> Vec<Option<f64>> {
        let mut best: Option<f64> = None;
        values
            .into_iter()
            .map(|v| {
                if let Some(v) = v.into() {
                    best = Some(best.map_or(v, |b| b.max(v)));
                }
                best
            })
            .collect()
    }

    fn series<V: Into<Option<f64>>>(
        mut self,
        name: String,
        values: impl IntoIterator<Item = V>,
        step: bool,
    ) -> Self {
        let values = values.into_iter().map(Into::into).collect();
        self.series.push(Series { name, values, step });
        self
    }

    /// The chart as an `<svg>` element.
    pub fn render(&self) -> Html {
        let frame = Frame::of(self);
        let mut svg = open_svg(self.width, self.height, &self.title, "line-chart");
        self.axes(&frame, &mut svg);
        for (i, series) in self.series.iter().enumerate() {
            let class = format!("s{}", i % 4);
            if series.step {
                step_line(&frame, series, &class, &mut svg);
            } else {
                dots(&frame, series, &class, &mut svg);
            }
        }
        self.ring_mark(&frame, &mut svg);
        self.legend(&mut svg);
        svg.push_str("</svg>");
        Html::markup(svg)
    }

    fn axes(&self, f: &Frame, svg: &mut String) {
        for k in 0..=4 {
            let v = f.low + (f.high - f.low) * k as f64 / 4.0;
            let text = if self.percent {
                format!("{}%", trim(100.0 * v))
            } else {
                trim(v)
            };
            let _ = write!(
                svg,
                "<line class=\"grid\" x1=\"{LEFT}\" x2=\"{x2}\" y1=\"{y:.1}\" y2=\"{y:.1}\"/>\
                 <text class=\"muted\" x=\"{tx}\" y=\"{ty:.1}\" text-anchor=\"end\">{text}</text>",
                x2 = self.width - RIGHT,
                y = f.y(v),
                tx = LEFT - 6.0,
                ty = f.y(v) + 4.0,
            );
        }
        let every = tick_step(f.n);
        for x in (1..=f.n).filter(|x| *x == 1 || f.label(*x).is_multiple_of(every)) {
            let _ = write!(
                svg,
                "<text class=\"muted\" x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"middle\">{}</text>",
                f.x(x),
                f.bottom + 18.0,
                f.label(x)
            );
        }
        let _ = write!(
            svg,
            "<line class=\"axis\" x1=\"{LEFT}\" x2=\"{x2}\" y1=\"{b:.1}\" y2=\"{b:.1}\"/>",
            x2 = self.width - RIGHT,
            b = f.bottom
        );
    }

    fn ring_mark(&self, f: &Frame, svg: &mut String) {
        let Some((labelled, label)) = &self.ring else {
            return;
        };
        let Some(position) = (labelled + 1).checked_sub(self.origin) else {
            return;
        };
        let value = self
            .series
            .first()
            .and_then(|s| s.values.get(position.wrapping_sub(1)).copied().flatten());
        let Some(value) = value else {
            return;
        };
        let (x, y) = (f.x(position), f.y(value));
        let _ = write!(
            svg,
            "<g class=\"ring\" data-x=\"{labelled}\" data-value=\"{value}\">\
             <circle cx=\"{x:.1}\" cy=\"{y:.1}\" r=\"9\"/>\
             <text x=\"{x:.1}\" y=\"{ty:.1}\" text-anchor=\"middle\">{}</text></g>",
            escape(label),
            ty = y - 14.0,
        );
    }

    fn legend(&self, svg: &mut String) {
        let mut x = LEFT;
        for (i, series) in self.series.iter().enumerate() {
            let mark = if series.step {
                format!(
                    "<line class=\"s{} step\" x1=\"{x}\" x2=\"{:.1}\" y1=\"12\" y2=\"12\"/>",
                    i % 4,
                    x + 18.0
                )
            } else {
                format!(
                    "<circle class=\"s{} dot\" cx=\"{:.1}\" cy=\"12\" r=\"4\"/>",
                    i % 4,
                    x + 9.0
                )
            };
            let _ = write!(
                svg,
                "<g class=\"legend\">{mark}<text x=\"{:.1}\" y=\"16\">{}</text></g>",
                x + 24.0,
                escape(&series.name)
            );
            x += 40.0 + 7.0 * series.name.chars().count() as f64;
        }
    }
}

/// Where positions and values land in the plot.
struct Frame {
    n: usize,
    /// The number of position 1.
    origin: usize,
    low: f64,
    high: f64,
    left: f64,
    right: f64,
    top: f64,
    bottom: f64,
}

impl Frame {
    fn of(chart: &LineChart) -> Frame {
        let n = chart
            .series
            .iter()
            .map(|s| s.values.len())
            .max()
            .unwrap_or(0)
            .max(1);
        let (low, high) = chart.domain.unwrap_or_else(|| {
            let values = chart.series.iter().flat_map(|s| s.values.iter().flatten());
            let (lo, hi) = values.fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), v| {
                (lo.min(*v), hi.max(*v))
            });
            match (lo.is_finite(), hi > lo) {
                (false, _) => (0.0, 1.0),
                (true, false) => (lo - 0.5, lo + 0.5),
                (true, true) => (lo - 0.05 * (hi - lo), hi + 0.05 * (hi - lo)),
            }
        });
        Frame {
            n,
            origin: chart.origin,
            low,
            high: if high > low { high } else { low + 1.0 },
            left: LEFT + 12.0,
            right: chart.width - RIGHT - 12.0,
            top: TOP,
            bottom: chart.height - BOTTOM,
        }
    }

    /// Position 1 at the left edge, `n` at the right (one position: the middle).
    /// Position `position` (1-based) as the chart numbers it.
    fn label(&self, position: usize) -> usize {
        position - 1 + self.origin
    }

    fn x(&self, position: usize) -> f64 {
        if self.n == 1 {
            return (self.left + self.right) / 2.0;
        }
        self.left + (self.right - self.left) * (position - 1) as f64 / (self.n - 1) as f64
    }

    fn y(&self, value: f64) -> f64 {
        let share = ((value - self.low) / (self.high - self.low)).clamp(0.0, 1.0);
        self.bottom - (self.bottom - self.top) * share
    }
}

fn dots(f: &Frame, series: &Series, class: &str, svg: &mut String) {
    let _ = write!(
        svg,
        "<g class=\"series dots\" data-series=\"{}\">",
        escape(&series.name)
    );
    for (i, value) in series.values.iter().enumerate() {
        let Some(value) = value else { continue };
        let _ = write!(
            svg,
            "<circle class=\"{class} dot\" data-x=\"{x}\" data-value=\"{value}\" cx=\"{cx:.1}\" cy=\"{cy:.1}\" r=\"4\"/>",
            x = f.label(i + 1),
            cx = f.x(i + 1),
            cy = f.y(*value),
        );
    }
    svg.push_str("</g>");
}

/// Level from each value to the next position, then up or down to the next value.
fn step_line(f: &Frame, series: &Series, class: &str, svg: &mut String) {
    let points: Vec<(usize, f64)> = series
        .values
        .iter()
        .enumerate()
        .filter_map(|(i, v)| v.map(|v| (i + 1, v)))
        .collect();
    let mut path = String::new();
    for (k, (x, v)) in points.iter().enumerate() {
        let (px, py) = (f.x(*x), f.y(*v));
        if k == 0 {
            let _ = write!(path, "M{px:.1} {py:.1}");
        } else {
            let _ = write!(path, " H{px:.1} V{py:.1}");
        }
    }
    let marks: String = points
        .iter()
        .map(|(x, v)| {
            format!(
                "<g class=\"point\" data-x=\"{}\" data-value=\"{v}\"/>",
                f.label(*x)
            )
        })
        .collect();
    let _ = write!(
        svg,
        "<g class=\"series step\" data-series=\"{}\"><path class=\"{class} step\" d=\"{path}\"/>{marks}</g>",
        escape(&series.name)
    );
}

/// Label every 1, 2, 5, 10, 20, 50… positions: at most 12 labels.
fn tick_step(n: usize) -> usize {
    let mut scale = 1;
    loop {
        for step in [scale, 2 * scale, 5 * scale] {
            if n / step <= 12 {
                return step;
            }
        }
        scale *= 10;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use roxmltree::{Document, Node};

    fn series<'a, 'i>(doc: &'a Document<'i>, name: &str) -> Node<'a, 'i> {
        doc.descendants()
            .find(|n| n.attribute("data-series") == Some(name))
            .unwrap()
    }

    /// `(position, value)` of every mark in `node` with a `data-x`.
    fn marks(node: Node) -> Vec<(usize, f64)> {
        node.descendants()
            .filter_map(|n| {
                let x = n.attribute("data-x")?.parse().ok()?;
                Some((x, n.attribute("data-value")?.parse().ok()?))
            })
            .collect()
    }

    #[test]
    fn dots_steps_and_ring_carry_the_series() {
        let scores = [Some(0.4), None, Some(0.7), Some(0.55), Some(0.8), None];
        let svg = LineChart::new("score per trial")
            .domain(0.0, 1.0)
            .percent()
            .dots("trial <score>", scores)
            .step("best so far", LineChart::best_so_far(scores))
            .ring(5, "returned")
            .render();
        let doc = Document::parse(svg.as_str()).unwrap();
        let dots = marks(series(&doc, "trial <score>"));
        assert_eq!(dots, [(1, 0.4), (3, 0.7), (4, 0.55), (5, 0.8)]);
        let best = marks(series(&doc, "best so far"));
        let expected = [(1, 0.4), (2, 0.4), (3, 0.7), (4, 0.7), (5, 0.8), (6, 0.8)];
        assert_eq!(best, expected);
        // The step line only ever rises (y falls), and starts and ends where the series does.
        let path = series(&doc, "best so far")
            .descendants()
            .find(|n| n.has_tag_name("path"))
            .unwrap()
            .attribute("d")
            .unwrap();
        let ys: Vec<f64> = path
            .split(' ')
            .filter_map(|part| part.strip_prefix('V'))
            .map(|y| y.parse().unwrap())
            .collect();
        assert_eq!(ys.len(), 5);
        assert!(ys.windows(2).all(|w| w[1] <= w[0]), "{path}");
        let ring = doc
            .descendants()
            .find(|n| n.attribute("class") == Some("ring"))
            .unwrap();
        assert_eq!(marks(ring), [(5, 0.8)]);
        assert!(doc.descendants().any(|n| n.text() == Some("returned")));
        // The y axis in percent, 0 to 100; the x axis labels every position.
        let labels: Vec<&str> = doc
            .descendants()
            .filter(|n| n.attribute("class") == Some("muted"))
            .filter_map(|n| n.text())
            .collect();
        assert_eq!(
            labels,
            [
                "0%", "25%", "50%", "75%", "100%", "1", "2", "3", "4", "5", "6"
            ]
        );
    }

    #[test]
    fn long_runs_label_round_positions_and_empty_charts_render() {
        let values: Vec<f64> = (0..95).map(|i| (i % 7) as f64 / 7.0).collect();
        let svg = LineChart::new("t").dots("v", values).render();
        let doc = Document::parse(svg.as_str()).unwrap();
        let labels: Vec<&str> = doc
            .descendants()
            .filter(|n| n.attribute("text-anchor") == Some("middle"))
            .filter_map(|n| n.text())
            .collect();
        assert_eq!(
            labels,
            ["1", "10", "20", "30", "40", "50", "60", "70", "80", "90"]
        );
        assert_eq!(
            (tick_step(12), tick_step(13), tick_step(25), tick_step(130)),
            (1, 2, 2, 20)
        );
        let empty = LineChart::new("nothing yet")
            .dots("v", Vec::<f64>::new())
            .render();
        assert!(Document::parse(empty.as_str()).is_ok());
        assert_eq!(
            LineChart::best_so_far(Vec::<f64>::new()),
            Vec::<Option<f64>>::new()
        );
    }
}
