//! The tasks pane: queued, running and finished tasks, read in place from the
//! app's task list (only the visible window is touched), with the filter.

use ratatui::buffer::Buffer;
use ratatui::layout::{Constraint, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Cell, Row, Table, Widget};

use crate::ui::app::App;
use crate::ui::app::tasks::{Phase, TaskRow};
use crate::ui::fmt;
use crate::ui::focus::Pane;

use super::pane;

/// The task's result in a few words: its value, or why it did not succeed.
pub fn outcome(r: &TaskRow) -> String {
    let Some(rep) = &r.report else {
        return String::new();
    };
    match r.phase {
        Phase::Done => {
            let v = if rep.output.value.is_empty() {
                &rep.output.stdout
            } else {
                &rep.output.value
            };
            fmt::first_line(v)
        }
        _ => fmt::first_line(rep.error.as_deref().unwrap_or("")),
    }
}

fn phase_style(app: &App, p: Phase) -> ratatui::style::Style {
    let th = app.theme;
    match p {
        Phase::Queued => th.dim(),
        Phase::Running => th.good(),
        Phase::Done => th.text(),
        Phase::Failed | Phase::TimedOut => th.bad(),
        Phase::Cancelled => th.warn(),
    }
}

pub fn render(app: &App, area: Rect, buf: &mut Buffer) {
    let th = app.theme;
    let t = &app.tasks;
    let c = &t.counts;
    let mut title = vec![Span::raw(format!(
        "Tasks {} queued · {} running · {} finished",
        c.queued,
        c.running,
        c.finished()
    ))];
    if !t.filter.is_empty() {
        title.push(Span::styled(
            format!(" · filter “{}”: {} match", t.filter, t.list_len()),
            th.warn(),
        ));
    }
    let right = if t.selected.is_none() {
        Line::styled(" following ", th.dim())
    } else {
        Line::styled(" End follows ", th.dim())
    };
    let block = pane(app, title, Some(right), app.focus == Pane::Tasks);
    let inner = block.inner(area);
    block.render(area, buf);

    let height = inner.height.saturating_sub(1) as usize;
    let start = t.window_start(height);
    let end = (start + height).min(t.list_len());
    let rows = (start..end).filter_map(|pos| {
        let (id, r) = t.list_row(pos)?;
        let time = match r.phase {
            Phase::Running => fmt::dur(app.now.saturating_duration_since(app.at_ms(r.started_ms))),
            Phase::Queued => String::new(),
            _ => r
                .report
                .as_ref()
                .map(|rep| fmt::dur(rep.wall))
                .filter(|_| r.attempt > 0)
                .unwrap_or_default(),
        };
        let out = outcome(r);
        let task = if out.is_empty() {
            Line::from(r.line.as_ref())
        } else {
            Line::from(vec![
                Span::raw(r.line.as_ref()),
                Span::styled(" → ", th.dim()),
                Span::styled(out, phase_style(app, r.phase)),
            ])
        };
        let row = Row::new(vec![
            Cell::from(id.to_string()),
            Cell::from(Span::styled(r.phase.name(), phase_style(app, r.phase))),
            Cell::from(r.worker.map(|w| w.to_string()).unwrap_or_default()),
            Cell::from(Line::from(time).right_aligned()),
            Cell::from(task),
        ]);
        Some(if t.selected == Some(id) {
            row.style(th.selected())
        } else {
            row
        })
    });
    let idw = (t.len().max(1).ilog10() as u16 + 2).max(3);
    let widths = [
        Constraint::Length(idw),
        Constraint::Length(9),
        Constraint::Length(4),
        Constraint::Length(6),
        Constraint::Fill(1),
    ];
    let header = Row::new(vec![
        Cell::from("id"),
        Cell::from("state"),
        Cell::from("on"),
        Cell::from(Line::from("time").right_aligned()),
        Cell::from("task → result"),
    ])
    .style(th.header());
    Table::new(rows, widths)
        .header(header)
        .column_spacing(1)
        .render(inner, buf);
}
