//! The help overlay: every key of the main screen (read from the keymap) and
//! what the figures mean.

use ratatui::buffer::Buffer;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Clear, Paragraph, Widget};

use crate::ui::app::App;
use crate::ui::layout::Areas;
use crate::ui::msg::Action;

pub fn render(app: &App, a: &Areas, buf: &mut Buffer) {
    let th = app.theme;
    let help = app.keys.help_lines();
    let width = help
        .iter()
        .map(|(k, _)| k.chars().count())
        .max()
        .unwrap_or(0);
    let width = width.clamp(14, 24);
    let mut lines: Vec<Line> = help
        .into_iter()
        .map(|(keys, what)| {
            // The padding stays outside the key's style (a solid chip in
            // high contrast).
            let pad = width.saturating_sub(keys.chars().count());
            Line::from(vec![
                Span::raw(" ".repeat(pad)),
                Span::styled(keys, th.key()),
                Span::raw(format!("  {what}")),
            ])
        })
        .collect();
    lines.push(Line::from(""));
    let hung = format!(
        "hung?: busy but no CPU for 10s: a candidate for {}. Mouse: click, wheel.",
        app.key_of(Action::Kill)
    );
    for note in [
        "Worker cpu%: % of ONE core, worker and children summed (can pass 100%).",
        "CPU pane: each core's own load; 'machine' is the mean of all cores.",
        &hung,
        "Filter: each word matches a state (fail, run, queued…) or the task line.",
    ] {
        lines.push(Line::styled(format!("  {note}"), th.dim()));
    }
    let closes = match (
        app.keys.first_key(Action::Help),
        app.keys.first_key(Action::Back),
    ) {
        (Some(h), Some(b)) => format!(" {h} or {b} closes "),
        (Some(k), None) | (None, Some(k)) => format!(" {k} closes "),
        (None, None) => String::new(),
    };
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
                .title_bottom(Line::styled(closes, th.dim()).right_aligned()),
        )
        .render(area, buf);
}
