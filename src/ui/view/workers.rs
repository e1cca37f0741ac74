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
    let hosts = host_summaries(app);
    // One line per host under the table, while the table keeps 3 rows.
    let shown = if hosts.len() > 1 && inner.height >= hosts.len() as u16 + 2 {
        hosts.len() as u16
    } else {
        0
    };
    let (inner, below) = (
        Rect {
            height: inner.height - shown,
            ..inner
        },
        Rect {
            y: inner.y + inner.height - shown,
            height: shown,
            ..inner
        },
    );
    for (i, line) in hosts.into_iter().take(shown as usize).enumerate() {
        buf.set_line(below.x, below.y + i as u16, &line, below.width);
    }
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
    let mut cells = vec![Cell::from(r.id.to_string()), Cell::from(r.pid.to_string())];
    if has_hosts(app) {
        cells.push(Cell::from(host_name(r).to_string()));
    }
    cells.extend([
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
    ]);
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
    // Numbers are right-aligned, and so are their headers.
    let mut numbers = 4..=8;
    if has_hosts(app) {
        let longest = app.workers.rows().map(|r| host_name(r).len()).max();
        widths.insert(
            2,
            Constraint::Length(longest.unwrap_or(4).clamp(4, 16) as u16),
        );
        header.insert(2, "host");
        numbers = 5..=9;
    }
    if wide {
        widths.push(Constraint::Length(10));
        header.push("cpu hist");
    }
    let header = Row::new(header.into_iter().enumerate().map(|(i, h)| {
        let line = Line::from(h);
        Cell::from(if numbers.contains(&i) {
            line.right_aligned()
        } else {
            line
        })
    }))
    .style(app.theme.header());
    (widths, header)
}

/// Whether any worker runs on another host (then rows show their host).
fn has_hosts(app: &App) -> bool {
    app.workers.rows().any(|r| r.host.is_some())
}

/// A row's host, as the host column shows it.
fn host_name(r: &WorkerInfo) -> &str {
    r.host.as_deref().unwrap_or("local")
}

/// One line per host (this machine first) when workers run on more than
/// one: its live workers, how many are busy, their CPU, and its cores' load
/// (the mean, and one cell per core).
fn host_summaries(app: &App) -> Vec<Line<'static>> {
    if !has_hosts(app) {
        return Vec::new();
    }
    let th = app.theme;
    let mut groups: Vec<(String, usize, usize, f32)> = Vec::new();
    for r in app.workers.alive() {
        let name = host_name(r);
        let at = match groups.iter().position(|g| g.0 == name) {
            Some(at) => at,
            None => {
                groups.push((name.to_string(), 0, 0, 0.0));
                groups.len() - 1
            }
        };
        let g = &mut groups[at];
        g.1 += 1;
        g.2 += usize::from(r.task.is_some());
        g.3 += r.stat.map_or(0.0, |s| s.cpu);
    }
    groups.sort_by(|a, b| (a.0 != "local", &a.0).cmp(&(b.0 != "local", &b.0)));
    groups
        .into_iter()
        .map(|(name, workers, busy, cpu)| {
            let cores: Vec<f32> = if name == "local" {
                (0..app.machine.cores.len())
                    .map(|c| app.machine.latest(c))
                    .collect()
            } else {
                app.machine
                    .hosts
                    .get(name.as_str())
                    .cloned()
                    .unwrap_or_default()
            };
            let load = if cores.is_empty() {
                "–".to_string()
            } else {
                format!("{:.0}%", cores.iter().sum::<f32>() / cores.len() as f32)
            };
            let strip: String = cores.iter().map(|c| fmt::bar_cell(*c, 100.0)).collect();
            Line::from(vec![
                Span::styled(format!(" {name:<16} "), th.header()),
                Span::raw(format!(
                    "{workers} worker{}, {busy} busy, cpu {cpu:.0}%, load {load} ",
                    if workers == 1 { "" } else { "s" }
                )),
                Span::styled(strip, th.good()),
            ])
        })
        .collect()
}
