//! Each report as a chart: SVG drawn with plotters, readable on its own — a title, the
//! period it covers, labelled axes with units, and a legend where there are several
//! series. Text is escaped by plotters' SVG backend (a campaign named `<script>` is
//! text in the chart, never markup).

use crate::{AppError, ErrorCode};
use leadgate_core::Stage;
use leadgate_core::reports::cohorts::Cohorts;
use leadgate_core::reports::cost::Cost;
use leadgate_core::reports::forecast::{DirectionForecast, Forecast};
use leadgate_core::reports::inflow::Inflow;
use leadgate_core::reports::mix::FunnelMix;
use leadgate_core::reports::rejected::RejectedThenWon;
use leadgate_core::reports::waterfall::Waterfall;
use leadgate_core::reports::{Grouping, Period};
use plotters::coord::Shift;
use plotters::coord::ranged1d::SegmentValue;
use plotters::prelude::*;
use std::collections::BTreeMap;

const SIZE: (u32, u32) = (960, 540);
/// Series drawn at most: more is not readable; the largest groups come first.
const SERIES_MAX: usize = 8;
const FONT: &str = "sans-serif";
const PALETTE: [RGBColor; 8] = [
    RGBColor(31, 119, 180),
    RGBColor(255, 127, 14),
    RGBColor(44, 160, 44),
    RGBColor(214, 39, 40),
    RGBColor(148, 103, 189),
    RGBColor(140, 86, 75),
    RGBColor(227, 119, 194),
    RGBColor(127, 127, 127),
];

/// The period a chart covers, as its subtitle says it.
fn period_text(p: &Period) -> String {
    let day = |t: leadgate_core::Timestamp| t.to_rfc3339()[..10].to_owned();
    match (p.from, p.to) {
        (None, None) => "all contacts".to_owned(),
        (Some(f), None) => format!("from {}", day(f)),
        (None, Some(t)) => format!("before {}", day(t)),
        (Some(f), Some(t)) => format!("from {} to {} (exclusive)", day(f), day(t)),
    }
}

/// A group's name as a legend or a table says it: `channel=paid_search`.
pub fn group_name(group: &BTreeMap<Grouping, Option<String>>) -> String {
    if group.is_empty() {
        return "all".to_owned();
    }
    let parts: Vec<String> = group.iter().map(|(k, v)| format!("{k}={}", v.as_deref().unwrap_or("(none)"))).collect();
    parts.join(" ")
}

/// A chart drawn by `draw` on an SVG canvas, or why it could not be.
fn render(draw: impl FnOnce(&DrawingArea<SVGBackend<'_>, Shift>) -> Drawn) -> Result<String, AppError> {
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, SIZE).into_drawing_area();
        draw(&root)
            .and_then(|()| root.present().map_err(|e| e.to_string().into()))
            .map_err(|e| AppError::new(ErrorCode::Internal, format!("the chart could not be drawn: {e}")))?;
    }
    Ok(svg)
}

/// One series of a chart: its name and a value for each label (none: no value there).
struct Series {
    name: String,
    values: Vec<Option<f64>>,
}

/// Bars, one cluster per label and one bar per series, each with its value written
/// above it by `show`.
fn bars(
    title: &str,
    subtitle: &str,
    labels: &[String],
    series: &[Series],
    y_desc: &str,
    show: fn(f64) -> String,
) -> Result<String, AppError> {
    render(|root| draw_bars(root, title, subtitle, labels, series, y_desc, show))
}

type Drawn = Result<(), Box<dyn std::error::Error>>;

/// The area under a chart's title and subtitle.
fn titled<'b>(
    root: &DrawingArea<SVGBackend<'b>, Shift>,
    title: &str,
    subtitle: &str,
) -> Result<DrawingArea<SVGBackend<'b>, Shift>, Box<dyn std::error::Error>> {
    root.fill(&WHITE)?;
    let area = root.titled(title, (FONT, 22))?;
    area.draw_text(subtitle, &(FONT, 14).into_font().color(&BLACK.mix(0.7)), (12, 0))?;
    // Room on the right for the last label of the axis, centred on its point.
    Ok(area.margin(22, 8, 8, 40))
}

fn draw_bars(
    root: &DrawingArea<SVGBackend<'_>, Shift>,
    title: &str,
    subtitle: &str,
    labels: &[String],
    series: &[Series],
    y_desc: &str,
    show: fn(f64) -> String,
) -> Drawn {
    let area = titled(root, title, subtitle)?;
    // A segment per bar, and an empty one after each label's cluster.
    let width = series.len().max(1) as i32 + 1;
    let segments = labels.len().max(1) as i32 * width;
    let top = series.iter().flat_map(|s| s.values.iter().flatten()).fold(0.0_f64, |a, &b| a.max(b));
    let top = if top > 0.0 { top * 1.15 } else { 1.0 };
    let mut chart = ChartBuilder::on(&area)
        .x_label_area_size(48)
        .y_label_area_size(72)
        .build_cartesian_2d((0..segments).into_segmented(), 0.0..top)?;
    let middle = (width - 2) / 2;
    // At most about 24 labels along the axis: every `every`-th cluster's.
    let every = (labels.len() as i32 / 24 + 1).max(1);
    let label_of = |v: &SegmentValue<i32>| match v {
        SegmentValue::Exact(s) | SegmentValue::CenterOf(s) if s % width == middle && (s / width) % every == 0 => {
            labels.get((s / width) as usize).cloned().unwrap_or_default()
        }
        _ => String::new(),
    };
    // Bars a few pixels wide have no room for a gap between them, nor for their values.
    let roomy = segments <= 120;
    let gap = if roomy { 2 } else { 0 };
    chart
        .configure_mesh()
        .disable_x_mesh()
        .x_labels(segments as usize)
        .x_label_formatter(&label_of)
        .y_desc(y_desc)
        .label_style((FONT, 13))
        .draw()?;
    for (k, s) in series.iter().enumerate() {
        let color = PALETTE[k % PALETTE.len()];
        let placed: Vec<(i32, f64)> =
            s.values.iter().enumerate().filter_map(|(i, v)| v.map(|v| (i as i32 * width + k as i32, v))).collect();
        chart
            .draw_series(placed.iter().map(|&(x, v)| {
                let mut bar =
                    Rectangle::new([(SegmentValue::Exact(x), 0.0), (SegmentValue::Exact(x + 1), v)], color.filled());
                bar.set_margin(0, 0, gap, gap);
                bar
            }))?
            .label(s.name.clone())
            .legend(move |(x, y)| Rectangle::new([(x, y - 5), (x + 10, y + 5)], color.filled()));
        if roomy {
            chart.draw_series(placed.iter().map(|&(x, v)| {
                Text::new(show(v), (SegmentValue::Exact(x), v + top * 0.02), (FONT, 11).into_font().color(&BLACK))
            }))?;
        }
    }
    // A legend names the groups; a single series of all contacts needs none.
    if series.len() > 1 || series.first().is_some_and(|s| s.name != "all") {
        legend(&mut chart, SeriesLabelPosition::UpperRight, 12)?;
    }
    Ok(())
}

/// Lines, one per series, over `labels` (weeks, months).
fn lines(title: &str, subtitle: &str, labels: &[String], series: &[Series], y_desc: &str) -> Result<String, AppError> {
    render(|root| draw_lines(root, title, subtitle, labels, series, y_desc))
}

fn draw_lines(
    root: &DrawingArea<SVGBackend<'_>, Shift>,
    title: &str,
    subtitle: &str,
    labels: &[String],
    series: &[Series],
    y_desc: &str,
) -> Drawn {
    let area = titled(root, title, subtitle)?;
    let last = (labels.len() as i32 - 1).max(1);
    let top = series.iter().flat_map(|s| s.values.iter().flatten()).fold(0.0_f64, |a, &b| a.max(b));
    let top = if top > 0.0 { top * 1.1 } else { 1.0 };
    let mut chart =
        ChartBuilder::on(&area).x_label_area_size(48).y_label_area_size(72).build_cartesian_2d(0..last, 0.0..top)?;
    chart
        .configure_mesh()
        .x_labels(labels.len().clamp(2, 13))
        .x_label_formatter(&|x| labels.get(*x as usize).cloned().unwrap_or_default())
        .y_desc(y_desc)
        .label_style((FONT, 13))
        .draw()?;
    for (k, s) in series.iter().enumerate() {
        let color = PALETTE[k % PALETTE.len()];
        let points: Vec<(i32, f64)> =
            s.values.iter().enumerate().filter_map(|(i, v)| v.map(|v| (i as i32, v))).collect();
        // A point for each value: a series of one value is a point, not an invisible line.
        chart.draw_series(points.iter().map(|&p| Circle::new(p, 3, color.filled())))?;
        chart
            .draw_series(LineSeries::new(points, color.stroke_width(2)))?
            .label(s.name.clone())
            .legend(move |(x, y)| PathElement::new([(x, y), (x + 16, y)], color.stroke_width(2)));
    }
    legend(&mut chart, SeriesLabelPosition::UpperLeft, 12)?;
    Ok(())
}

/// A chart's legend, framed on a light background, where `at` says.
fn legend<'a, X, Y>(
    chart: &mut ChartContext<'a, SVGBackend<'a>, Cartesian2d<X, Y>>,
    at: SeriesLabelPosition,
    size: u32,
) -> Drawn
where
    X: Ranged,
    Y: Ranged,
{
    chart
        .configure_series_labels()
        .background_style(WHITE.mix(0.85))
        .border_style(BLACK)
        .label_font((FONT, size))
        .position(at)
        .draw()?;
    Ok(())
}

fn percent(v: f64) -> String {
    format!("{:.1} %", v * 100.0)
}

fn count(v: f64) -> String {
    format!("{v:.0}")
}

/// An amount in major units (the axis's), to the cent.
fn money(v: f64) -> String {
    format!("{v:.2}")
}

/// The waterfall: each stage's contacts as bars, for all contacts or each group (the
/// largest first), the conversion from the first stage written above each bar.
pub fn waterfall(w: &Waterfall) -> Result<String, AppError> {
    let labels: Vec<String> = w.totals.stages.iter().map(|s| s.stage.as_str().to_owned()).collect();
    let groups: Vec<_> = if w.groups.is_empty() { vec![&w.totals] } else { w.groups.iter().take(SERIES_MAX).collect() };
    let series: Vec<Series> = groups
        .iter()
        .map(|g| Series {
            name: group_name(&g.group),
            values: g.stages.iter().map(|s| s.conversion_from_first.or(Some(1.0).filter(|_| s.count > 0))).collect(),
        })
        .collect();
    let counts: Vec<String> = w.totals.stages.iter().map(|s| s.count.to_string()).collect();
    let subtitle = format!(
        "{}; share of those that entered that reached each stage; all contacts per stage: {}",
        period_text(&w.selection.period),
        counts.join(" → ")
    );
    bars("Demand waterfall", &subtitle, &labels, &series, "share of contacts that entered", percent)
}

/// Cost: what a contact of each stage cost, by group.
pub fn cost(c: &Cost) -> Result<String, AppError> {
    let stages = [Stage::Prospect, Stage::Mql, Stage::Sql, Stage::Opportunity, Stage::Customer];
    let labels: Vec<String> = stages.iter().map(|s| format!("per {s}")).collect();
    let groups: Vec<_> = if c.groups.is_empty() { vec![&c.totals] } else { c.groups.iter().take(SERIES_MAX).collect() };
    let series: Vec<Series> = groups
        .iter()
        .map(|g| Series {
            name: group_name(&g.group),
            values: stages
                .iter()
                .map(|st| g.stages.iter().find(|s| s.stage == *st).and_then(|s| s.cost_per).map(|v| v as f64 / 100.0))
                .collect(),
        })
        .collect();
    let subtitle = format!(
        "{}; spend {} {}, value won {} {}",
        period_text(&c.selection.period),
        crate::export::amount(c.totals.spend),
        c.currency,
        crate::export::amount(c.totals.value_won),
        c.currency
    );
    bars("Cost per stage", &subtitle, &labels, &series, &format!("cost per contact ({})", c.currency), money)
}

/// Cohorts as a heat map: for each month of entry (rows) and month after (columns),
/// the share that had become customers.
pub fn cohorts(c: &Cohorts) -> Result<String, AppError> {
    render(|root| draw_cohorts(root, c))
}

fn draw_cohorts(root: &DrawingArea<SVGBackend<'_>, Shift>, c: &Cohorts) -> Drawn {
    let subtitle = format!(
        "{}; share of each month's contacts that had become customers, by months after entry",
        period_text(&c.selection.period)
    );
    let area = titled(root, "Cohorts: customers by month of entry", &subtitle)?;
    let rows = c.cohorts.len().max(1);
    let shares = |i: usize| -> Vec<f64> {
        c.cohorts[i]
            .stages
            .iter()
            .filter(|s| s.stage == Stage::Customer)
            .flat_map(|s| s.by_month.iter().map(|m| m.share))
            .collect()
    };
    let cols = (0..c.cohorts.len()).map(|i| shares(i).len()).max().unwrap_or(0).max(1);
    let top = (0..c.cohorts.len()).flat_map(shares).fold(0.0_f64, f64::max).max(1e-9);
    let labels: Vec<String> = c.cohorts.iter().map(|k| k.month.to_string()).collect();
    let mut chart = ChartBuilder::on(&area)
        .x_label_area_size(40)
        .y_label_area_size(72)
        .build_cartesian_2d(0.0..cols as f64, 0.0..rows as f64)?;
    chart
        .configure_mesh()
        .disable_mesh()
        .x_desc("months after entry")
        .y_desc("month of entry")
        .x_labels(cols.min(25))
        .x_label_formatter(&|x| format!("{}", x.floor() as i64))
        .y_labels(rows.min(24))
        .y_label_formatter(&|y| {
            labels.get(rows - 1 - y.floor().min(rows as f64 - 1.0) as usize).cloned().unwrap_or_default()
        })
        .label_style((FONT, 12))
        .draw()?;
    for i in 0..c.cohorts.len() {
        let y = (rows - 1 - i) as f64;
        for (m, share) in shares(i).into_iter().enumerate() {
            let heat = (share / top).clamp(0.0, 1.0);
            let color = RGBColor(255 - (heat * 224.0) as u8, 255 - (heat * 136.0) as u8, 255 - (heat * 75.0) as u8);
            chart.draw_series(std::iter::once(Rectangle::new(
                [(m as f64, y), (m as f64 + 1.0, y + 1.0)],
                color.filled(),
            )))?;
            if cols <= 13 && rows <= 24 {
                chart.draw_series(std::iter::once(Text::new(
                    format!("{:.0}%", share * 100.0),
                    (m as f64 + 0.3, y + 0.6),
                    (FONT, 10).into_font().color(&BLACK),
                )))?;
            }
        }
    }
    area.draw_text(
        &format!("darkest: {} of a cohort", percent(top)),
        &(FONT, 12).into_font().color(&BLACK.mix(0.7)),
        (80, 0),
    )?;
    Ok(())
}

/// Inflow: responses per week, a line per group (the largest) and one for all.
pub fn inflow(i: &Inflow) -> Result<String, AppError> {
    let mut series: Vec<Series> = i
        .groups
        .iter()
        .take(SERIES_MAX - 1)
        .map(|g| Series { name: group_name(&g.group), values: g.counts.iter().map(|&c| Some(c as f64)).collect() })
        .collect();
    series.push(Series {
        name: "all responses".to_owned(),
        values: i.totals.counts.iter().map(|&c| Some(c as f64)).collect(),
    });
    let subtitle =
        format!("{} weeks from {}; Monday to Sunday, UTC", i.weeks.len(), i.weeks.first().map_or("-", String::as_str));
    lines("Inflow: responses per week", &subtitle, &i.weeks, &series, "responses per week")
}

/// The funnel mix: the contacts in each band at each month's end.
pub fn funnel_mix(m: &FunnelMix) -> Result<String, AppError> {
    let labels: Vec<String> = m.months.iter().map(|p| p.month.to_string()).collect();
    let band = |name: &str, f: fn(&leadgate_core::reports::mix::MixPoint) -> u64| Series {
        name: name.to_owned(),
        values: m.months.iter().map(|p| Some(f(p) as f64)).collect(),
    };
    let series = [
        band("top (suspect, prospect)", |p| p.top),
        band("middle (mql, sal)", |p| p.middle),
        band("bottom (sql, opportunity)", |p| p.bottom),
        band("customer", |p| p.customer),
        band("nurture", |p| p.nurture),
        band("out (lost, disqualified)", |p| p.out),
    ];
    let direction = m.direction.map_or("inbound and outbound".to_owned(), |d| d.as_str().to_owned());
    let subtitle = format!("contacts at the end of each month (the month under way: now); {direction}");
    lines("Funnel mix", &subtitle, &labels, &series, "contacts")
}

/// Rejected, then won: each month's rejections and the contacts won back of them.
pub fn rejected_then_won(r: &RejectedThenWon) -> Result<String, AppError> {
    let labels: Vec<String> = r.months.iter().map(|m| m.month.to_string()).collect();
    let series = [
        Series {
            name: "rejected".to_owned(),
            values: r.months.iter().map(|m| Some(m.outcomes.rejected as f64)).collect(),
        },
        Series {
            name: "won back".to_owned(),
            values: r.months.iter().map(|m| Some(m.outcomes.won_back as f64)).collect(),
        },
    ];
    let subtitle = format!(
        "{}; by month of rejection (nurture, lost, disqualified); won back: {} of {}",
        period_text(&r.period),
        r.totals.won_back,
        r.totals.rejected
    );
    bars("Rejected, then won", &subtitle, &labels, &series, "contacts", count)
}

/// The forecast: inbound and outbound side by side, each stage's recent months as a
/// line, then its expectation dashed inside its interval, and what happened as crosses
/// where the months are over (a backtest).
pub fn forecast(f: &Forecast) -> Result<String, AppError> {
    render(|root| draw_forecast(root, f))
}

fn draw_forecast(root: &DrawingArea<SVGBackend<'_>, Shift>, f: &Forecast) -> Drawn {
    let subtitle = format!(
        "made at {}; recent months, then the expectation with its {:.0} % interval; crosses: what happened",
        &f.made_at.to_rfc3339()[..10],
        f.confidence * 100.0
    );
    let area = titled(root, "Forecast: contacts first reaching each stage, per month", &subtitle)?;
    let labels: Vec<String> = f.recent_months.iter().chain(&f.months).map(|m| m.to_string()).collect();
    for (panel, d) in area.split_evenly((1, 2)).iter().zip(&f.directions) {
        draw_forecast_panel(panel, d, &labels, f.recent_months.len(), &f.currency)?;
    }
    Ok(())
}

fn draw_forecast_panel(
    area: &DrawingArea<SVGBackend<'_>, Shift>,
    d: &DirectionForecast,
    labels: &[String],
    recent: usize,
    currency: &str,
) -> Drawn {
    let value: f64 = d.value.months.iter().map(|e| e.expected).sum();
    let caption = format!(
        "{}: value expected over {} months {} {currency}",
        d.direction.as_str(),
        d.value.months.len(),
        money(value / 100.0)
    );
    let top = d
        .stages
        .iter()
        .flat_map(|s| s.line.recent.iter().map(|&n| n as f64).chain(s.line.months.iter().map(|e| e.high)))
        .fold(0.0_f64, f64::max);
    let top = if top > 0.0 { top * 1.1 } else { 1.0 };
    let last = (labels.len() as i32 - 1).max(1);
    let mut chart = ChartBuilder::on(area)
        .caption(caption, (FONT, 14))
        .margin_right(16)
        .x_label_area_size(48)
        .y_label_area_size(56)
        .build_cartesian_2d(0..last, 0.0..top)?;
    chart
        .configure_mesh()
        .x_labels(labels.len().clamp(2, 10))
        .x_label_formatter(&|x| labels.get(*x as usize).map(|l| l[2..].to_owned()).unwrap_or_default())
        .y_desc("contacts per month")
        .label_style((FONT, 11))
        .draw()?;
    for (k, s) in d.stages.iter().enumerate() {
        let color = PALETTE[k % PALETTE.len()];
        let past: Vec<(i32, f64)> = s.line.recent.iter().enumerate().map(|(i, &n)| (i as i32, n as f64)).collect();
        let ahead: Vec<(i32, f64)> =
            s.line.months.iter().enumerate().map(|(i, e)| ((recent + i) as i32, e.expected)).collect();
        // The interval as a band, from the last month known to the last forecast.
        let mut band: Vec<(i32, f64)> = past.last().copied().into_iter().collect();
        band.extend(s.line.months.iter().enumerate().map(|(i, e)| ((recent + i) as i32, e.high)));
        band.extend(s.line.months.iter().enumerate().rev().map(|(i, e)| ((recent + i) as i32, e.low)));
        chart.draw_series(std::iter::once(Polygon::new(band, color.mix(0.15).filled())))?;
        chart.draw_series(past.iter().map(|&p| Circle::new(p, 3, color.filled())))?;
        chart
            .draw_series(LineSeries::new(past.clone(), color.stroke_width(2)))?
            .label(s.stage.as_str())
            .legend(move |(x, y)| PathElement::new([(x, y), (x + 16, y)], color.stroke_width(2)));
        let joined: Vec<(i32, f64)> = past.last().copied().into_iter().chain(ahead).collect();
        chart.draw_series(DashedLineSeries::new(joined, 6, 4, color.stroke_width(2)))?;
        let actual =
            s.line.months.iter().enumerate().filter_map(|(i, e)| e.actual.map(|a| ((recent + i) as i32, a as f64)));
        chart.draw_series(actual.map(|p| Cross::new(p, 5, color.stroke_width(2))))?;
    }
    legend(&mut chart, SeriesLabelPosition::UpperLeft, 11)?;
    Ok(())
}

/// The SLA report: each queue's compliance (first actions in time of those decided),
/// and each person's in it.
pub fn sla(r: &crate::handoff::SlaReport) -> Result<String, AppError> {
    let rows: Vec<_> = r.rows.iter().take(40).collect();
    let labels: Vec<String> = rows
        .iter()
        .map(|l| match &l.assignee {
            Some(person) => format!("{}: {person}", l.queue),
            None => l.queue.clone(),
        })
        .collect();
    let series = [Series { name: "compliance".to_owned(), values: rows.iter().map(|l| l.row.compliance).collect() }];
    let subtitle = format!(
        "{} to {}; first actions in time, of those in time or breached",
        r.from.to_rfc3339().get(..10).unwrap_or_default(),
        r.to.to_rfc3339().get(..10).unwrap_or_default()
    );
    bars("SLA compliance by queue and person", &subtitle, &labels, &series, "compliance", percent)
}

#[cfg(test)]
mod tests {
    use super::*;
    use leadgate_core::reports::Selection;
    use leadgate_core::reports::funnel::Path;
    use leadgate_core::reports::waterfall::Waterfall;

    #[test]
    fn a_chart_says_what_it_shows_and_a_hostile_name_is_text_not_markup() {
        let mut groups: [Option<std::sync::Arc<str>>; Grouping::ALL.len()] = Default::default();
        groups[Grouping::Campaign.index()] = Some("<script>alert(1)</script>".into());
        let t = |d: i64| leadgate_core::Timestamp(d * leadgate_core::time::MICROS_PER_DAY);
        let path = Path {
            contact_id: uuid::Uuid::nil(),
            entered_at: t(0),
            groups,
            reached: [Some(t(0)), Some(t(1)), Some(t(2)), None, None, None, None],
            disqualified: false,
            value_won: None,
        };
        let w = Waterfall::of([&path], Selection::default(), &[Grouping::Campaign]).unwrap();
        let svg = waterfall(&w).unwrap();
        assert!(svg.starts_with("<svg") && svg.contains("Demand waterfall"), "{svg}");
        assert!(svg.contains("share of contacts that entered") && svg.contains("mql"), "axes and labels");
        assert!(svg.contains("&lt;script&gt;") && !svg.contains("<script>"), "escaped: {svg}");
    }
}
