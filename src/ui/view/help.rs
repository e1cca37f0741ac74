//! The help overlay: every key of the main screen (read from the keymap) and
//! what the figures mean.

use ratatui::buffer::Buffer;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Clear, Paragraph, Widget};

use crate::ui::app::App;
use crate::ui::keymap;
use crate::ui::layout::Areas;

pub fn render(app: &App, a: &Areas, buf: &mut Buffer) {
    let th = app.theme;
    let mut lines: Vec<Line> = keymap::help_lines()
        .into_iter()
        .map(|(keys, what)| {
            Line::from(vec![
                Span::styled(format!("{keys:>14}"), th.key()),
                Span::raw(format!("  {what}")),
            ])
        })
        .collect();
    lines.push(Line::from(""));
    for note in [
        "Worker cpu%: % of ONE core, worker and children summed (can pass 100%).",
        "CPU pane: each core's own load; 'machine' is the mean of all cores.",
        "hung?: busy but no CPU for 10s: a candidate for K. Mouse: click, wheel.",
        "Filter: each word matches a state (fail, run, queued…) or the task line.",
    ] {
        lines.push(Line::styled(format!("  {note}"), th.dim()));
    }
    let h = lines.len() as u16 + 2;
    let area = a.centered(84, h);
    Clear.render(area, buf);
    let max_scroll = (h as usize).saturating_sub(area.height as usize);
    let scroll = app.overlay_scroll.min(max_scroll) as u16;
    Paragraph::new(lines)
        .scroll((scroll, 0))
        .block(
            Block::new()
                .borders(Borders::ALL)
                .border_style(th.border())
                .title(Line::styled(" Help: pooltop keys ", th.title(true)))
                .title_bottom(Line::styled(" ? or Esc closes ", th.dim()).right_aligned()),
        )
        .render(area, buf);
}
