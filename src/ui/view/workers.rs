//! The workers table: one row per worker, its state written out (and
//! coloured), the task it holds and for how long, its counts, CPU, memory and
//! a CPU sparkline. A toast, when there is one, sits on the title rule.

use ratatui::buffer::Buffer;
use ratatui::layout::{Constraint, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Cell, Row, Table, Widget};

use crate::ui::app::App;
use crate::ui::app::workers::{WorkerInfo, visible_offset};
use crate::ui::fmt;
use crate::ui::focus::Pane;
use crate::ui::status::StateKind;

use super::pane;

/// The state column's text: the state's name, with its clock when it has one.
pub fn state_text(app: &App, r: &WorkerInfo) -> (StateKind, String) {
    let now = app.now;
    let k = app.workers.kind(r);
    let t = match k {
        StateKind::Pending => "pending".to_string(),
        StateKind::Starting => "starting".to_string(),
        StateKind::Idle => "idle".to_string(),
        StateKind::Busy => "busy".to_string(),
        StateKind::Hung => {
            let since = r.hung_since.unwrap_or(now);
            format!("hung? {}", fmt::secs(now.saturating_duration_since(since)))
        }
        StateKind::Paused => {
            let at = r.paused_at.unwrap_or(now);
            format!("paused {}", fmt::secs(now.saturating_duration_since(at)))
        }
        StateKind::Stopping => match r.stopping.and_then(|s| s.deadline) {
            Some(d) if d > now => format!("stopping {}", fmt::secs_up(d - now)),
            Some(_) => "killing…".to_string(),
            None => "stopping…".to_string(),
        },
        StateKind::Retiring => "retiring".to_string(),
        StateKind::Exited => match &r.gone {
            Some((pooltop::engine::events::ExitHow::Exited(c), _)) => format!("exited {c}"),
            _ => "exited".to_string(),
        },
        StateKind::Killed => "killed".to_string(),
        StateKind::Crashed => "crashed".to_string(),
    };
    (k, t)
}

/// Draws the workers pane: its title (and the toast), the table's header
/// and the visible rows.
pub fn render(app: &App, area: Rect, buf: &mut Buffer) {
    let th = app.theme;
    let ws = &app.workers;
    let alive = ws.alive().count();
    let title = vec![Span::raw(format!(
        "Workers {alive} (target {})",
        app.target_workers
    ))];
    let right = app
        .toast
        .as_ref()
        .map(|(t, lvl, _)| Line::styled(format!(" {t} "), th.level(*lvl)));
    let block = pane(app, title, right, app.focus == Pane::Workers);
    let inner = block.inner(area);
    block.render(area, buf);

    // The CPU history column only fits a wide terminal.
    let wide = area.width >= 100;
    let height = inner.height.saturating_sub(1) as usize;
    let offset = visible_offset(ws.offset, ws.selected_pos(), ws.len(), height);
    let rows = ws
        .rows()
        .skip(offset)
        .take(height)
        .map(|r| row(app, r, wide));
    let (widths, header) = columns(app, wide);
    Table::new(rows, widths)
        .header(header)
        .column_spacing(1)
        .render(inner, buf);
}

/// One worker's row: the selected one highlighted, a gone one dimmed.
fn row<'a>(app: &App, r: &WorkerInfo, wide: bool) -> Row<'a> {
    let th = app.theme;
    let (kind, state) = state_text(app, r);
    let (task, held) = match &r.task {
        Some(h) => {
            let ran = h.running_for(app.now, r.paused_at);
            let held = match app.cfg.task_timeout {
                Some(t) => format!("{}/{}", fmt::dur(ran), fmt::dur(t)),
                None => fmt::dur(ran),
            };
            (format!("{} {}", h.task, h.line), held)
        }
        None => (String::new(), String::new()),
    };
    let (cpu, rss) = match r.stat {
        Some(s) if r.gone.is_none() => (format!("{:.0}%", s.cpu), fmt::bytes(s.rss)),
        _ => ("–".to_string(), "–".to_string()),
    };
    let mut cells = vec![
        Cell::from(r.id.to_string()),
        Cell::from(r.pid.to_string()),
        Cell::from(Span::styled(state, th.state(kind))),
        Cell::from(task),
        Cell::from(Line::from(held).right_aligned()),
        Cell::from(Line::from(r.done.to_string()).right_aligned()),
        Cell::from(
            Line::styled(
                r.failed.to_string(),
                if r.failed > 0 { th.bad() } else { th.text() },
            )
            .right_aligned(),
        ),
        Cell::from(Line::from(cpu).right_aligned()),
        Cell::from(Line::from(rss).right_aligned()),
    ];
    if wide {
        cells.push(Cell::from(Span::styled(
            fmt::sparkline(app.workers.history(r.id), 100.0, 10),
            th.good(),
        )));
    }
    let row = Row::new(cells);
    if app.workers.selected == Some(r.id) {
        row.style(th.selected())
    } else if r.gone.is_some() {
        row.style(th.dim())
    } else {
        row
    }
}

/// The table's column widths and its header row.
fn columns(app: &App, wide: bool) -> (Vec<Constraint>, Row<'static>) {
    let mut widths = vec![
        Constraint::Length(4),
        Constraint::Length(7),
        Constraint::Length(12),
        Constraint::Fill(1),
        Constraint::Length(if app.cfg.task_timeout.is_some() {
            10
        } else {
            6
        }),
        Constraint::Length(5),
        Constraint::Length(4),
        Constraint::Length(5),
        Constraint::Length(6),
    ];
    let mut header = vec![
        "id", "pid", "state", "task", "held", "done", "fail", "cpu%", "rss",
    ];
    if wide {
        widths.push(Constraint::Length(10));
        header.push("cpu hist");
    }
    let header = Row::new(header.into_iter().enumerate().map(|(i, h)| {
        // Numbers are right-aligned, and so are their headers.
        let line = Line::from(h);
        Cell::from(if (4..=8).contains(&i) {
            line.right_aligned()
        } else {
            line
        })
    }))
    .style(app.theme.header());
    (widths, header)
}
