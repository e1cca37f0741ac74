//! The run's timeline as an SVG Gantt chart (`pooltop report --svg`),
//! drawn with plotters' SVG backend: one lane per worker slot, time left
//! to right, each task attempt a bar coloured by its state. Spans closer
//! than a pixel on a lane, of one state, are drawn as one bar, so a
//! million tasks make a file of a few thousand bars.

use std::collections::BTreeMap;
use std::path::Path;

use plotters::prelude::*;

use super::Report;
use super::read;
use super::spans::Spans;

/// The chart's size in pixels.
const WIDTH: u32 = 1200;
const LANE_PX: u32 = 28;

/// A bar: lane, state, from, to.
type Bar = (u64, String, f64, f64);

/// The colour of a state.
fn colour(state: &str) -> RGBColor {
    match state {
        "done" => RGBColor(76, 145, 65),
        "failed" => RGBColor(205, 55, 55),
        "timed_out" => RGBColor(230, 140, 30),
        "retried" => RGBColor(150, 80, 170),
        _ => RGBColor(140, 140, 140),
    }
}

/// Writes the timeline of the recording at `recording` (whose report is
/// `report`) to `out`.
pub fn write(recording: &Path, out: &Path, report: &Report) -> Result<(), String> {
    let wall = report.wall_s.max(1e-3);
    let px = wall / f64::from(WIDTH);
    let mut spans = Spans::default();
    let mut bars: Vec<Bar> = Vec::new();
    // Per lane, the index of its last bar, to merge into.
    let mut last: BTreeMap<u64, usize> = BTreeMap::new();
    let mut end = wall;
    read::read(recording, |l| {
        let Some(s) = spans.observe(l) else {
            return;
        };
        end = end.max(s.end);
        if let Some(&i) = last.get(&s.lane) {
            let b = &mut bars[i];
            // Only what a pixel cannot show apart is merged.
            if b.1 == s.state && s.start - b.3 < px && s.end - s.start < 2.0 * px {
                b.3 = b.3.max(s.end);
                return;
            }
        }
        last.insert(s.lane, bars.len());
        bars.push((s.lane, s.state, s.start, s.end));
    })
    .map_err(|e| e.0)?;
    let lanes: Vec<u64> = last.keys().copied().collect();
    let row = |lane: u64| lanes.iter().position(|&l| l == lane).unwrap_or(0) as f64;
    let height = 110 + LANE_PX * lanes.len().max(1) as u32;
    let root = SVGBackend::new(out, (WIDTH, height)).into_drawing_area();
    let draw = |e: &dyn std::fmt::Display| format!("cannot draw `{}`: {e}", out.display());
    root.fill(&WHITE).map_err(|e| draw(&e))?;
    let title = format!(
        "pooltop: {} — {} tasks, {:.2}s, speedup {:.2}",
        report.title, report.counts.submitted, report.wall_s, report.speedup
    );
    let mut chart = ChartBuilder::on(&root)
        .caption(title, ("sans-serif", 18))
        .margin(12)
        .x_label_area_size(36)
        .y_label_area_size(56)
        .build_cartesian_2d(0f64..end, -0.5f64..lanes.len().max(1) as f64 - 0.5)
        .map_err(|e| draw(&e))?;
    let names = lanes.clone();
    chart
        .configure_mesh()
        .disable_y_mesh()
        .x_desc("seconds since the start")
        .y_desc("slot")
        .y_labels(lanes.len().max(1))
        .y_label_formatter(&|y| {
            let i = y.round();
            match names.get(i.max(0.0) as usize) {
                Some(l) if (y - i).abs() < 1e-6 => format!("{l}"),
                _ => String::new(),
            }
        })
        .draw()
        .map_err(|e| draw(&e))?;
    let mut states: Vec<&str> = bars.iter().map(|b| b.1.as_str()).collect();
    states.sort_unstable();
    states.dedup();
    for state in states {
        let c = colour(state);
        chart
            .draw_series(bars.iter().filter(|b| b.1 == state).map(|b| {
                let y = row(b.0);
                // At least a pixel wide, so a tiny task still shows.
                let x1 = b.3.max(b.2 + px);
                Rectangle::new([(b.2, y - 0.35), (x1, y + 0.35)], c.filled())
            }))
            .map_err(|e| draw(&e))?
            .label(state.to_string())
            .legend(move |(x, y)| Rectangle::new([(x, y - 5), (x + 12, y + 5)], c.filled()));
    }
    // A white edge between one task and the next on a lane.
    chart
        .draw_series(bars.iter().map(|b| {
            let y = row(b.0);
            let x1 = b.3.max(b.2 + px);
            Rectangle::new([(b.2, y - 0.35), (x1, y + 0.35)], WHITE.stroke_width(1))
        }))
        .map_err(|e| draw(&e))?;
    chart
        .configure_series_labels()
        .background_style(WHITE.mix(0.85))
        .border_style(BLACK)
        .position(SeriesLabelPosition::UpperRight)
        .draw()
        .map_err(|e| draw(&e))?;
    root.present().map_err(|e| draw(&e))?;
    Ok(())
}
