//! The task detail overlay: the task's line, worker, timings, result or
//! error, and captured stdout/stderr.

use pooltop::engine::TaskId;
use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Clear, Paragraph, Widget, Wrap};

use crate::ui::app::App;
use crate::ui::app::tasks::Phase;
use crate::ui::fmt;
use crate::ui::layout::Areas;
use crate::ui::msg::Action;

pub fn render(app: &App, a: &Areas, buf: &mut Buffer) {
    let th = app.theme;
    let area = a.centered(
        a.full.width.saturating_sub(6),
        a.full.height.saturating_sub(4),
    );
    Clear.render(area, buf);
    let Some(id) = app.detail else { return };
    let Some(r) = app.tasks.get(id) else { return };
    let field = |k: &str, v: String| {
        Line::from(vec![
            Span::styled(format!("{k:>9} "), th.bold()),
            Span::raw(v),
        ])
    };
    let mut lines = vec![field("line", r.line.to_string())];
    let on = r.worker.map_or_else(|| "–".to_string(), |w| w.to_string());
    lines.push(field("worker", format!("{on} (attempt {})", r.attempt)));
    match r.phase {
        Phase::Queued => lines.push(field("state", "queued: waiting for a worker".into())),
        Phase::Running => {
            let ran = app.now.saturating_duration_since(app.at_ms(r.started_ms));
            let limit = app
                .cfg
                .task_timeout
                .map(|t| format!(" of {} allowed", fmt::dur(t)))
                .unwrap_or_default();
            lines.push(field(
                "state",
                format!("running for {}{limit}", fmt::dur(ran)),
            ));
        }
        _ => {}
    }
    if let Some(rep) = &r.report {
        lines.push(field("state", r.phase.name().to_string()));
        lines.push(field(
            "time",
            format!("wall {} · cpu {}", fmt::dur(rep.wall), fmt::dur(rep.cpu)),
        ));
        if let Some(peak) = rep.max_rss {
            lines.push(field("peak rss", fmt::bytes(peak)));
        }
        if !rep.output.value.is_empty() {
            lines.push(field("result", rep.output.value.clone()));
        }
        if let Some(code) = rep.output.exit_code {
            lines.push(field("exit code", code.to_string()));
        }
        if let Some(e) = &rep.error {
            lines.push(Line::from(vec![
                Span::styled(format!("{:>9} ", "error"), th.bold()),
                Span::styled(e.clone(), th.bad()),
            ]));
        }
        for (name, text) in [
            ("stdout", &rep.output.stdout),
            ("stderr", &rep.output.stderr),
        ] {
            if text.is_empty() {
                continue;
            }
            lines.push(Line::styled(format!("{name:>9}"), th.bold()));
            lines.extend(text.lines().map(|l| Line::from(format!("          {l}"))));
        }
    }
    if r.phase == Phase::Running {
        live_output(app, id, area, &mut lines);
    }
    let title = format!(" Task {id} · {} ", r.phase.name());
    let bottom = format!(
        " {} closes · {} scroll ",
        app.key_of(Action::Back),
        app.keys.first_keys(&[Action::Up, Action::Down])
    );
    Paragraph::new(lines)
        .wrap(Wrap { trim: false })
        .scroll((app.overlay_scroll.min(u16::MAX as usize) as u16, 0))
        .block(
            Block::new()
                .borders(Borders::ALL)
                .border_style(th.border())
                .title(Line::styled(title, th.title(true)))
                .title_bottom(Line::styled(bottom, th.dim()).right_aligned()),
        )
        .render(area, buf);
}

/// A running task's output as it arrives: unscrolled, the newest lines that
/// fit (the output scrolls up as it arrives); scrolled, all of it.
fn live_output(app: &App, id: TaskId, area: Rect, lines: &mut Vec<Line<'static>>) {
    let th = app.theme;
    let Some(text) = app.live.of(id) else {
        return;
    };
    lines.push(Line::styled(format!("{:>9}", "output"), th.bold()));
    let all: Vec<&str> = text.lines().collect();
    let room = usize::from(area.height.saturating_sub(2)).saturating_sub(lines.len());
    let from = if app.overlay_scroll == 0 {
        all.len().saturating_sub(room)
    } else {
        0
    };
    lines.extend(
        all[from..]
            .iter()
            .map(|l| Line::from(format!("          {l}"))),
    );
}
