//! The message shown instead of the dashboard in a terminal below 80x24.

use ratatui::buffer::Buffer;
use ratatui::layout::{Alignment, Rect};
use ratatui::text::Line;
use ratatui::widgets::{Paragraph, Widget, Wrap};

use crate::ui::app::App;
use crate::ui::layout::{MIN_HEIGHT, MIN_WIDTH};
use crate::ui::msg::Action;

/// Draws the "terminal too small" message, centred in `area`.
pub fn render(app: &App, area: Rect, buf: &mut Buffer) {
    let th = app.theme;
    let lines = vec![
        Line::styled("Terminal too small", th.bad()),
        Line::from(format!(
            "{}x{} here; pooltop needs at least {MIN_WIDTH}x{MIN_HEIGHT}.",
            area.width, area.height
        )),
        Line::from(format!(
            "Enlarge the window, or press {} to quit.",
            app.key_of(Action::Quit)
        )),
    ];
    let h = (lines.len() as u16 + 2).min(area.height);
    let y = area.y + area.height.saturating_sub(h) / 2;
    let r = Rect::new(area.x, y, area.width, h);
    Paragraph::new(lines)
        .alignment(Alignment::Center)
        .wrap(Wrap { trim: true })
        .render(r, buf);
}
