//! The submit prompt: one task line, validated as the user types, with the
//! error shown inline.

use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Clear, Paragraph, Widget, Wrap};

use crate::ui::app::App;
use crate::ui::layout::Areas;
use pooltop::engine::events::Task;

use super::put;

/// The task kinds and their arguments, as a reminder.
const SYNTAX: &str = "spin N · sleep S · square N · sha256 PATH · thumbnail PATH [WxH] · shell CMD · hang · fail [MSG] · crash";

pub fn render(app: &App, a: &Areas, buf: &mut Buffer) {
    let th = app.theme;
    let h = 5u16;
    let area = Rect::new(a.full.x, a.footer.y.saturating_sub(h), a.full.width, h);
    Clear.render(area, buf);
    let block = Block::new()
        .borders(Borders::ALL)
        .border_style(th.border())
        .title(Line::styled(
            " Submit a task (the syntax of task files) ",
            th.title(true),
        ));
    let inner = block.inner(area);
    block.render(area, buf);

    // The line, with the cursor as a reversed cell.
    let p = &app.submit;
    let before: String = p.text.chars().take(p.cursor).collect();
    let at: String = p
        .text
        .chars()
        .nth(p.cursor)
        .map_or(" ".into(), |c| c.to_string());
    let after: String = p.text.chars().skip(p.cursor + 1).collect();
    let line = Line::from(vec![
        Span::styled("> ", th.key()),
        Span::raw(before),
        Span::styled(at, th.selected()),
        Span::raw(after),
    ]);
    put(buf, inner.x, inner.y, &line, inner.width);

    let status = if let Some(err) = &app.submit_error {
        Line::styled(format!("✗ {err}"), th.bad())
    } else if p.text.trim().is_empty() {
        Line::styled(SYNTAX, th.dim())
    } else {
        match Task::parse(&p.text) {
            Ok(t) => Line::styled(
                format!("✓ a valid `{}` task: Enter submits it", t.spec.kind()),
                th.good(),
            ),
            Err(e) => Line::styled(format!("✗ {}", e.reason), th.bad()),
        }
    };
    // The status wraps onto the syntax line when it is long.
    let mut lines = vec![status];
    if !p.text.trim().is_empty() {
        lines.push(Line::styled(SYNTAX, th.dim()));
    }
    let rest = Rect::new(
        inner.x,
        inner.y + 1,
        inner.width,
        inner.height.saturating_sub(1),
    );
    Paragraph::new(lines)
        .wrap(Wrap { trim: false })
        .render(rest, buf);
}
