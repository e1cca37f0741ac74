//! The event log pane, newest first.

use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::Widget;

use crate::ui::app::App;
use crate::ui::fmt;
use crate::ui::focus::Pane;

use super::{pane, put};

pub fn render(app: &App, area: Rect, buf: &mut Buffer) {
    let th = app.theme;
    let log = &app.log;
    let right =
        (log.scroll > 0).then(|| Line::styled(format!(" ↓{} older ", log.scroll), th.dim()));
    let block = pane(
        app,
        vec![Span::raw("Events")],
        right,
        app.focus == Pane::Log,
    );
    let inner = block.inner(area);
    block.render(area, buf);
    for (i, e) in log
        .entries
        .iter()
        .skip(log.scroll)
        .take(inner.height as usize)
        .enumerate()
    {
        let at = fmt::clock(e.at.saturating_duration_since(app.start));
        let line = Line::from(vec![
            Span::styled(format!(" {at:>5} "), th.dim()),
            Span::styled(e.text.as_str(), th.level(e.level)),
        ]);
        put(buf, inner.x, inner.y + i as u16, &line, inner.width);
    }
}
