//! Line charts as SVG text, written by hand: axes with ticks and labels, one polyline per
//! series, a legend.
//!
//! The benchmarks' plots are small and all alike (a parameter across, instructions up,
//! a line per core or per kind of message), so a few hundred lines of SVG are enough, and
//! nothing needs installing to make or to view them: any browser opens the files.
//!
//! The x axis is either linear or logarithmic to base 2 (message sizes and batch sizes
//! double), and its ticks sit at the x values the data has, since those are the
//! parameters that were measured. The y axis starts at zero, so the heights of two
//! points compare as their values do, and its ticks are round numbers.

use std::fmt::Write;

/// How x values are placed along the axis.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Scale {
    Linear,
    /// By their base-2 logarithm (every value must be positive).
    Log2,
}

/// How a series is drawn.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Style {
    /// A line in a colour of its own, with a marker on each point.
    Data,
    /// A dashed grey line without markers: a baseline to compare the data with.
    Reference,
}

/// A series' stroke: its colour and, for a reference, its dash pattern.
#[derive(Clone, Copy)]
struct Stroke {
    colour: &'static str,
    dash: Option<&'static str>,
}

impl Stroke {
    /// The SVG attributes: `stroke="…" stroke-width="2"`, and the dashes if any.
    fn attributes(self) -> String {
        let dash = self.dash.map(|d| format!(r#" stroke-dasharray="{d}""#)).unwrap_or_default();
        format!(r#"stroke="{}" stroke-width="2"{dash}"#, self.colour)
    }
}

#[derive(Clone, Debug)]
pub struct Series {
    pub label: String,
    pub points: Vec<(f64, f64)>,
    pub style: Style,
}

#[derive(Clone, Debug)]
pub struct Chart {
    pub title: String,
    pub x_label: String,
    pub y_label: String,
    pub x_scale: Scale,
    pub series: Vec<Series>,
}

/// Drawing size, in SVG user units (pixels when shown as they are).
const WIDTH: f64 = 840.0;
const HEIGHT: f64 = 440.0;
/// The plot area: room on the left for the y tick labels, on the right for the legend.
const LEFT: f64 = 90.0;
const RIGHT: f64 = 540.0;
const TOP: f64 = 50.0;
const BOTTOM: f64 = 370.0;
/// Series colours, one per data series in turn (a colour-blind-safe palette).
const COLOURS: [&str; 8] =
    ["#0072b2", "#d55e00", "#009e73", "#cc79a7", "#e69f00", "#56b4e9", "#000000", "#f0e442"];
const REFERENCE_COLOUR: &str = "#666666";
/// Dash patterns of reference lines, one per reference in turn, so that two of them (in
/// the same grey) tell apart in the legend.
const DASHES: [&str; 3] = ["8 4", "2 3", "8 3 2 3"];
/// Ticks on the y axis, about.
const Y_TICKS: f64 = 5.0;
/// Beyond this many distinct x values, x ticks are round numbers instead.
const MOST_X_TICKS: usize = 12;

impl Chart {
    /// The chart as a complete SVG document.
    pub fn to_svg(&self) -> String {
        let frame = Frame::new(self);
        let mut svg = String::new();
        let _ = writeln!(
            svg,
            concat!(
                r#"<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{HEIGHT}" "#,
                r#"viewBox="0 0 {WIDTH} {HEIGHT}" font-family="sans-serif" font-size="12">"#
            ),
            WIDTH = WIDTH,
            HEIGHT = HEIGHT,
        );
        let _ = writeln!(svg, r#"<rect width="{WIDTH}" height="{HEIGHT}" fill="white"/>"#);
        let _ = writeln!(
            svg,
            r#"<text x="{}" y="28" text-anchor="middle" font-size="16">{}</text>"#,
            (LEFT + RIGHT) / 2.0,
            escape(&self.title)
        );
        frame.draw_axes(&mut svg, self);
        let (mut colours, mut dashes) = (COLOURS.iter().enumerate().cycle(), DASHES.iter().cycle());
        let mut data_series = 0;
        let styled: Vec<(&Series, Stroke)> = self
            .series
            .iter()
            .map(|series| match series.style {
                Style::Data => {
                    let (_, colour) = colours.next().unwrap_or((0, &COLOURS[0]));
                    // Past the palette, the colours come round again with dashes.
                    let dash = (data_series >= COLOURS.len()).then_some("6 3");
                    data_series += 1;
                    (series, Stroke { colour, dash })
                }
                Style::Reference => {
                    (series, Stroke { colour: REFERENCE_COLOUR, dash: dashes.next().copied() })
                }
            })
            .collect();
        for &(series, stroke) in &styled {
            frame.draw_series(&mut svg, series, stroke);
        }
        draw_legend(&mut svg, &styled);
        svg.push_str("</svg>\n");
        svg
    }
}

/// Where values land on the drawing.
struct Frame {
    scale: Scale,
    x_min: f64,
    x_max: f64,
    y_max: f64,
    y_step: f64,
    x_ticks: Vec<f64>,
}

impl Frame {
    fn new(chart: &Chart) -> Frame {
        let points = || chart.series.iter().flat_map(|s| s.points.iter().copied());
        let scale = chart.x_scale;
        let mut xs: Vec<f64> = points().map(|(x, _)| x).filter(|x| usable_x(scale, *x)).collect();
        xs.sort_by(f64::total_cmp);
        xs.dedup();
        let (mut x_min, mut x_max) = match (xs.first(), xs.last()) {
            (Some(&min), Some(&max)) => (min, max),
            _ => (1.0, 2.0),
        };
        if x_min == x_max {
            (x_min, x_max) = match scale {
                Scale::Linear => (x_min - 1.0, x_max + 1.0),
                Scale::Log2 => (x_min / 2.0, x_max * 2.0),
            };
        }
        let highest = points().map(|(_, y)| y).filter(|y| y.is_finite()).fold(0.0, f64::max);
        let y_step = nice_step(if highest > 0.0 { highest / Y_TICKS } else { 1.0 });
        let y_max = ((highest / y_step).ceil() * y_step).max(y_step);
        let x_ticks = if xs.len() <= MOST_X_TICKS {
            xs
        } else {
            let step = nice_step((x_max - x_min) / Y_TICKS);
            let first = (x_min / step).ceil() as i64;
            let last = (x_max / step).floor() as i64;
            (first..=last).map(|i| i as f64 * step).collect()
        };
        Frame { scale, x_min, x_max, y_max, y_step, x_ticks }
    }

    /// The drawing's x for a value: the data's range, inset by 4% at each end so that
    /// no point sits on an axis.
    fn x(&self, value: f64) -> f64 {
        let place = |v: f64| match self.scale {
            Scale::Linear => v,
            Scale::Log2 => v.log2(),
        };
        let (low, high) = (place(self.x_min), place(self.x_max));
        let fraction = 0.04 + 0.92 * (place(value) - low) / (high - low);
        LEFT + fraction * (RIGHT - LEFT)
    }

    fn y(&self, value: f64) -> f64 {
        BOTTOM - value / self.y_max * (BOTTOM - TOP)
    }

    fn draw_axes(&self, svg: &mut String, chart: &Chart) {
        // Horizontal grid lines and y ticks.
        let steps = (self.y_max / self.y_step).round() as i64;
        for i in 0..=steps {
            let value = i as f64 * self.y_step;
            let y = self.y(value);
            let _ = writeln!(
                svg,
                r##"<line x1="{LEFT}" y1="{y:.1}" x2="{RIGHT}" y2="{y:.1}" stroke="#e4e4e4"/>"##
            );
            let _ = writeln!(
                svg,
                r#"<text x="{}" y="{:.1}" text-anchor="end">{}</text>"#,
                LEFT - 8.0,
                y + 4.0,
                number(value, self.y_step)
            );
        }
        for &value in &self.x_ticks {
            let x = self.x(value);
            let _ = writeln!(
                svg,
                r#"<line x1="{x:.1}" y1="{BOTTOM}" x2="{x:.1}" y2="{}" stroke="black"/>"#,
                BOTTOM + 5.0
            );
            let _ = writeln!(
                svg,
                r#"<text x="{x:.1}" y="{}" text-anchor="middle">{}</text>"#,
                BOTTOM + 19.0,
                number(value, 1.0)
            );
        }
        let _ =
            writeln!(svg, r#"<line x1="{LEFT}" y1="{BOTTOM}" x2="{RIGHT}" y2="{BOTTOM}" stroke="black"/>"#);
        let _ = writeln!(svg, r#"<line x1="{LEFT}" y1="{TOP}" x2="{LEFT}" y2="{BOTTOM}" stroke="black"/>"#);
        let _ = writeln!(
            svg,
            r#"<text x="{}" y="{}" text-anchor="middle">{}</text>"#,
            (LEFT + RIGHT) / 2.0,
            BOTTOM + 42.0,
            escape(&chart.x_label)
        );
        let (x, y) = (22.0, (TOP + BOTTOM) / 2.0);
        let _ = writeln!(
            svg,
            r#"<text x="{x}" y="{y}" text-anchor="middle" transform="rotate(-90 {x} {y})">{}</text>"#,
            escape(&chart.y_label)
        );
    }

    fn draw_series(&self, svg: &mut String, series: &Series, stroke: Stroke) {
        let points: Vec<(f64, f64)> = series
            .points
            .iter()
            .filter(|(x, y)| usable_x(self.scale, *x) && y.is_finite())
            .map(|&(x, y)| (self.x(x), self.y(y)))
            .collect();
        let list: Vec<String> = points.iter().map(|(x, y)| format!("{x:.1},{y:.1}")).collect();
        let _ =
            writeln!(svg, r#"<polyline fill="none" {} points="{}"/>"#, stroke.attributes(), list.join(" "));
        if series.style == Style::Data {
            for (x, y) in points {
                let _ =
                    writeln!(svg, r#"<circle cx="{x:.1}" cy="{y:.1}" r="3.5" fill="{}"/>"#, stroke.colour);
            }
        }
    }
}

/// The legend, right of the plot area: a short line in each series' style, and its label.
fn draw_legend(svg: &mut String, series: &[(&Series, Stroke)]) {
    let x = RIGHT + 20.0;
    for (i, (series, stroke)) in series.iter().enumerate() {
        let y = TOP + 10.0 + 22.0 * i as f64;
        let _ =
            writeln!(svg, r#"<line x1="{x}" y1="{y}" x2="{}" y2="{y}" {}/>"#, x + 28.0, stroke.attributes());
        let _ = writeln!(svg, r#"<text x="{}" y="{}">{}</text>"#, x + 36.0, y + 4.0, escape(&series.label));
    }
}

fn usable_x(scale: Scale, x: f64) -> bool {
    x.is_finite() && (scale == Scale::Linear || x > 0.0)
}

/// A round step near `rough`: 1, 2 or 5 times a power of ten.
fn nice_step(rough: f64) -> f64 {
    let power = 10f64.powf(rough.log10().floor());
    let mantissa = rough / power;
    let nice = if mantissa <= 1.0 {
        1.0
    } else if mantissa <= 2.0 {
        2.0
    } else if mantissa <= 5.0 {
        5.0
    } else {
        10.0
    };
    nice * power
}

/// `value` with as many decimals as `step` needs (none for whole steps).
fn number(value: f64, step: f64) -> String {
    let decimals = if step >= 1.0 { 0 } else { (-step.log10().floor()) as usize };
    format!("{value:.decimals$}")
}

/// Text made safe to put between SVG tags.
fn escape(text: &str) -> String {
    text.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chart(series: Vec<Series>) -> Chart {
        Chart {
            title: "URPC round trip".into(),
            x_label: "message size (words)".into(),
            y_label: "instructions per message".into(),
            x_scale: Scale::Log2,
            series,
        }
    }

    fn data(label: &str, points: &[(f64, f64)]) -> Series {
        Series { label: label.into(), points: points.to_vec(), style: Style::Data }
    }

    /// The element names of `svg`'s tags, each opening and closing matched in order.
    fn check_tags_balance(svg: &str) {
        let mut open: Vec<String> = Vec::new();
        let mut rest = svg;
        while let Some(start) = rest.find('<') {
            let end = rest[start..].find('>').expect("every tag ends") + start;
            let tag = &rest[start + 1..end];
            if let Some(name) = tag.strip_prefix('/') {
                assert_eq!(open.pop().as_deref(), Some(name), "closing tag matches the open one");
            } else if !tag.ends_with('/') {
                open.push(tag.split_whitespace().next().unwrap_or_default().to_string());
            }
            rest = &rest[end + 1..];
        }
        assert!(open.is_empty(), "unclosed: {open:?}");
    }

    #[test]
    fn a_chart_is_one_svg_element_with_balanced_tags() {
        let svg = chart(vec![data("core 1", &[(3.0, 10.0), (8.0, 20.0), (64.0, 40.0)])]).to_svg();
        assert!(svg.starts_with("<svg xmlns=\"http://www.w3.org/2000/svg\""));
        assert!(svg.trim_end().ends_with("</svg>"));
        assert_eq!(svg.matches("<svg").count(), 1);
        check_tags_balance(&svg);
    }

    #[test]
    fn each_series_is_one_polyline_with_a_legend_entry() {
        let reference = Series {
            label: "local monitor call".into(),
            points: vec![(3.0, 5.0), (64.0, 5.0)],
            style: Style::Reference,
        };
        let svg = chart(vec![
            data("core 1", &[(3.0, 10.0), (8.0, 20.0)]),
            data("core 2", &[(3.0, 12.0), (8.0, 24.0)]),
            reference,
        ])
        .to_svg();
        assert_eq!(svg.matches("<polyline").count(), 3);
        assert_eq!(svg.matches("stroke-dasharray").count(), 2, "the reference and its legend entry");
        for label in ["core 1", "core 2", "local monitor call"] {
            assert!(svg.contains(&format!(">{label}</text>")), "{label}");
        }
        assert_eq!(svg.matches("<circle").count(), 4, "markers on data points only");
    }

    #[test]
    fn the_title_and_axis_labels_are_present_and_escaped() {
        let mut c = chart(vec![data("a < b & c", &[(1.0, 1.0)])]);
        c.title = "LMP & URPC".into();
        let svg = c.to_svg();
        for text in ["LMP &amp; URPC", "message size (words)", "instructions per message", "a &lt; b &amp; c"]
        {
            assert!(svg.contains(text), "{text}");
        }
        check_tags_balance(&svg);
    }

    #[test]
    fn x_ticks_are_the_measured_values_and_y_ticks_round_numbers() {
        let svg = chart(vec![data("core 1", &[(3.0, 1234.0), (8.0, 2345.0), (64.0, 4321.0)])]).to_svg();
        for tick in [">3</text>", ">8</text>", ">64</text>", ">0</text>", ">1000</text>", ">5000</text>"] {
            assert!(svg.contains(tick), "{tick}");
        }
    }

    #[test]
    fn a_single_point_or_no_point_still_draws() {
        let one = chart(vec![data("only", &[(4.0, 0.5)])]).to_svg();
        assert_eq!(one.matches("<polyline").count(), 1);
        assert!(!one.contains("NaN") && !one.contains("inf"));
        let none = chart(vec![data("empty", &[])]).to_svg();
        check_tags_balance(&none);
        assert!(!none.contains("NaN"));
    }

    #[test]
    fn steps_are_one_two_or_five_times_a_power_of_ten() {
        assert_eq!(nice_step(0.7), 1.0);
        assert_eq!(nice_step(1.5), 2.0);
        assert_eq!(nice_step(2400.0), 5000.0);
        assert_eq!(nice_step(0.03), 0.05);
        assert_eq!(number(0.05, 0.05), "0.05");
        assert_eq!(number(5000.0, 1000.0), "5000");
    }
}
