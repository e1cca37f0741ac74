//! Drawing: `impl Widget for &App`. Computes the layout once, then each pane
//! or popup draws itself from the app's state, never changing it.

mod cores;
mod detail;
mod footer;
mod header;
mod help;
mod log;
mod submit;
mod tasks;
mod timeline;
mod too_small;
mod workers;

use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Widget};

use super::app::App;
use super::focus::Mode;

impl Widget for &App {
    fn render(self, area: Rect, buf: &mut Buffer) {
        let mut app_area = self.areas();
        // Draw into what the frame gives, whatever size the app last heard of.
        if app_area.full != area {
            app_area = super::layout::Areas::compute(
                area,
                self.machine.cores.len(),
                self.workers.lines_wanted(),
            );
        }
        let a = app_area;
        if a.too_small {
            too_small::render(self, area, buf);
            return;
        }
        header::render(self, a.header, buf);
        cores::render(self, &a, buf);
        workers::render(self, a.workers, buf);
        if self.timeline.shown {
            timeline::render(self, a.tasks, buf);
        } else {
            tasks::render(self, a.tasks, buf);
        }
        log::render(self, a.log, buf);
        footer::render(self, a.footer, buf);
        match self.mode {
            Mode::Normal | Mode::Filter => {}
            Mode::Help => help::render(self, &a, buf),
            Mode::Submit => submit::render(self, &a, buf),
            Mode::Detail => detail::render(self, &a, buf),
        }
    }
}

/// A pane's frame: a top rule carrying its title (left) and an optional note (right).
fn pane<'a>(app: &App, title: Vec<Span<'a>>, right: Option<Line<'a>>, focused: bool) -> Block<'a> {
    let th = app.theme;
    let mut spans = vec![Span::styled(" ", th.title(focused))];
    spans.extend(title.into_iter().map(|s| {
        let st = th.title(focused).patch(s.style);
        s.style(st)
    }));
    spans.push(Span::styled(" ", th.title(focused)));
    let mut b = Block::new()
        .borders(Borders::TOP)
        .border_style(th.border())
        .title(Line::from(spans));
    if let Some(r) = right {
        b = b.title(r.right_aligned());
    }
    b
}

/// Writes `line` at (`x`, `y`), clipped to `width` cells.
fn put(buf: &mut Buffer, x: u16, y: u16, line: &Line<'_>, width: u16) {
    buf.set_line(x, y, line, width);
}

#[cfg(test)]
mod tests;
#[cfg(test)]
mod timeline_tests;
