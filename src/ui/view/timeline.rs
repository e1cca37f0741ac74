//! The timeline view, in place of the tasks pane: one lane per worker slot,
//! time left to right, each task a bar coloured by how it ended and labelled
//! with its kind and id when it is wide enough. A cell covering several
//! tasks shows how busy it was (░▒▓█), in the alarm colour when one failed;
//! paused time is marked ‖. Each cell is two binary searches on its lane
//! (see `app::timeline`), so the frame costs the same for ten tasks or a
//! million.

use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span};

use crate::ui::app::timeline::{KINDS, Lane, Micros, SpanState};
use crate::ui::app::{App, LABEL_WIDTH};
use crate::ui::fmt;
use crate::ui::focus::Pane;
use crate::ui::msg::Action;
use crate::ui::status::StateKind;

use super::{pane, put};

/// Labels are drawn on bars at least this many cells wide.
const LABEL_MIN: usize = 4;
/// Label at most this many bars a lane per frame (zoomed out, the rest
/// are too narrow to label anyway).
const LABELS_MAX: usize = 512;

fn span_style(app: &App, s: SpanState) -> Style {
    let th = app.theme;
    match s {
        SpanState::Done => th.state(StateKind::Starting),
        SpanState::Failed | SpanState::TimedOut | SpanState::Retried => th.bad(),
        SpanState::Cancelled => th.warn(),
    }
}

pub fn render(app: &App, area: Rect, buf: &mut Buffer) {
    if area.height < 3 || area.width <= LABEL_WIDTH + 2 {
        return;
    }
    let th = app.theme;
    let t = &app.timeline;
    let now = app.timeline_now();
    let cells = area.width - LABEL_WIDTH;
    let (w0, w1) = t.window(now, cells);
    let where_ = match t.cursor {
        None if t.is_live() => "live".to_string(),
        None => format!("to {}", clock(t.end(now))),
        Some(c) => format!("cursor {}", clock(c)),
    };
    let title = format!(
        "Timeline · pool {:.0}% busy · {}/cell · {where_}",
        t.utilisation(now) * 100.0,
        fmt::dur(std::time::Duration::from_micros(t.per_cell)),
    );
    let keys = app.keys.first_keys(&[Action::ZoomIn, Action::ZoomOut]);
    let moves = app.keys.first_keys(&[Action::Earlier, Action::Later]);
    let end = app.key_of(Action::End);
    let note = format!(" {keys} zoom · {moves} move · {end} live ");
    // The keys' note only where it fits beside the title.
    let fits = title.chars().count() + note.chars().count() + 4 <= area.width as usize;
    let note = fits.then(|| Line::styled(note, th.dim()));
    let block = pane(app, vec![Span::raw(title)], note, app.focus == Pane::Tasks);
    ratatui::widgets::Widget::render(block, area, buf);

    axis(app, area, (w0, w1), buf);
    let rows = (area.height - 2) as usize;
    let lanes = t.lanes();
    if lanes.is_empty() {
        let l = Line::styled(" no worker has run a task yet", th.dim());
        put(buf, area.x, area.y + 2, &l, area.width);
    }
    for (row, (i, lane)) in lanes
        .iter()
        .enumerate()
        .skip(t.lane_offset)
        .take(rows)
        .enumerate()
    {
        let y = area.y + 2 + row as u16;
        let selected = i == t.lane && app.focus == Pane::Tasks;
        label(app, lane, selected, area.x, y, buf);
        draw_lane(app, lane, (w0, w1), area.x + LABEL_WIDTH, y, cells, buf);
        if selected {
            draw_cursor(app, (w0, w1), area.x + LABEL_WIDTH, y, cells, buf);
        }
    }
}

/// `mm:ss.t` since the start.
fn clock(us: Micros) -> String {
    let s = us / 1_000_000;
    let tenths = (us / 100_000) % 10;
    format!("{}:{:02}.{tenths}", s / 60, s % 60)
}

/// The time axis: a tick with its time every ten cells or so.
fn axis(app: &App, area: Rect, (w0, w1): (Micros, Micros), buf: &mut Buffer) {
    let th = app.theme;
    let cells = area.width - LABEL_WIDTH;
    let y = area.y + 1;
    let per = (w1 - w0) / u64::from(cells);
    let mut col = 0u16;
    while col < cells {
        let text = format!("┊{}", clock(w0 + per * u64::from(col)));
        let x = area.x + LABEL_WIDTH + col;
        put(buf, x, y, &Line::styled(text, th.dim()), cells - col);
        col += 12;
    }
    let head = Line::styled("slot wrk busy", th.header());
    put(buf, area.x, y, &head, LABEL_WIDTH);
}

/// The lane's label: slot, worker, utilisation.
fn label(app: &App, lane: &Lane, selected: bool, x: u16, y: u16, buf: &mut Buffer) {
    let th = app.theme;
    let now = app.timeline_now();
    let util = if now == 0 {
        0.0
    } else {
        lane.busy(now) as f64 * 100.0 / now as f64
    };
    let worker = lane
        .worker
        .map_or_else(|| "–".to_string(), |w| w.to_string());
    let text = format!(" {:>3} {:<4}{:>3.0}% ", lane.slot, worker, util);
    let style = if selected { th.selected() } else { th.text() };
    put(buf, x, y, &Line::styled(text, style), LABEL_WIDTH);
}

fn draw_lane(
    app: &App,
    lane: &Lane,
    (w0, w1): (Micros, Micros),
    x: u16,
    y: u16,
    cells: u16,
    buf: &mut Buffer,
) {
    let th = app.theme;
    let now = app.timeline_now();
    let per = (w1 - w0) / u64::from(cells);
    for col in 0..cells {
        let t0 = w0 + per * u64::from(col);
        if t0 >= now {
            break;
        }
        let c = lane.cell(t0, t0 + per, now);
        let (glyph, style) = if c.spans == 0 && !c.running {
            if c.paused {
                ("‖", th.state(StateKind::Paused))
            } else {
                continue;
            }
        } else if c.spans == 0 {
            // Only the running task.
            let g = if c.paused { "‖" } else { "█" };
            let st = if c.paused {
                th.state(StateKind::Paused)
            } else {
                th.good()
            };
            (g, st)
        } else if let Some(k) = c.only.filter(|_| !c.running) {
            // One task: a bar, shaded by turns so back-to-back tasks part.
            let s = &lane.spans()[k];
            let g = if c.busy * 2 < per {
                "▌"
            } else if k % 2 == 0 {
                "█"
            } else {
                "▓"
            };
            (g, span_style(app, s.state))
        } else {
            // Many tasks: how busy the cell was; red when one failed.
            let f = c.busy as f64 / per.max(1) as f64;
            let g = if f >= 0.95 {
                "█"
            } else if f >= 0.6 {
                "▓"
            } else if f >= 0.3 {
                "▒"
            } else {
                "░"
            };
            let st = if c.bad > 0 {
                th.bad()
            } else if c.running {
                th.good()
            } else {
                span_style(app, SpanState::Done)
            };
            (g, st)
        };
        if let Some(cell) = buf.cell_mut((x + col, y)) {
            cell.set_symbol(glyph).set_style(style);
        }
    }
    labels(app, lane, (w0, w1), x, y, cells, buf);
}

/// Writes each wide bar's kind and id on it.
fn labels(
    app: &App,
    lane: &Lane,
    (w0, w1): (Micros, Micros),
    x: u16,
    y: u16,
    cells: u16,
    buf: &mut Buffer,
) {
    let per = ((w1 - w0) / u64::from(cells)).max(1);
    let now = app.timeline_now();
    let r = lane.range(w0, w1);
    let mut bars: Vec<(Micros, Micros, u64, u8, Style)> = Vec::new();
    if r.len() <= LABELS_MAX {
        for s in &lane.spans()[r] {
            bars.push((s.start, s.end, s.task, s.kind, span_style(app, s.state)));
        }
    }
    if let Some(run) = lane.running {
        bars.push((run.start, now, run.task, run.kind, app.theme.good()));
    }
    for (start, end, task, kind, style) in bars {
        let c0 = start.max(w0).saturating_sub(w0).div_ceil(per);
        let c1 = end.min(w1).saturating_sub(w0) / per;
        let width = c1.saturating_sub(c0) as usize;
        if width < LABEL_MIN {
            continue;
        }
        let style = on_bar(style);
        let text = format!("{} #{task}", KINDS[kind as usize]);
        let text: String = text.chars().take(width).collect();
        let style = style.add_modifier(Modifier::REVERSED);
        put(
            buf,
            x + c0 as u16,
            y,
            &Line::styled(text, style),
            width as u16,
        );
    }
}

/// A label's style on a bar of `bar`'s colour: dark text on that colour
/// (explicit colours: captured screens drop reverse video), reversed in mono.
fn on_bar(bar: Style) -> Style {
    match bar.fg {
        Some(c) => Style::new()
            .fg(Color::Black)
            .bg(c)
            .add_modifier(Modifier::BOLD),
        None => bar.add_modifier(Modifier::REVERSED),
    }
}

/// The cursor on the selected lane: its cell stands out.
fn draw_cursor(
    app: &App,
    (w0, w1): (Micros, Micros),
    x: u16,
    y: u16,
    cells: u16,
    buf: &mut Buffer,
) {
    let Some(c) = app.timeline.cursor else { return };
    if c < w0 || c >= w1 {
        return;
    }
    let per = ((w1 - w0) / u64::from(cells)).max(1);
    let col = ((c - w0) / per) as u16;
    if let Some(cell) = buf.cell_mut((x + col, y)) {
        let sym = if cell.symbol() == " " {
            "▏"
        } else {
            cell.symbol()
        }
        .to_string();
        cell.set_symbol(&sym).set_style(app.theme.selected());
    }
}
