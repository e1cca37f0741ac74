//! The footer: the most useful keys of the current mode, read from the keymap
//! (so it always says what the keys do); the filter prompt when it is open.

use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};

use crate::ui::app::{App, Quitting};
use crate::ui::focus::Mode;
use crate::ui::keymap;
use crate::ui::msg::Action;

use super::put;

fn keys<'a>(app: &App, pairs: impl IntoIterator<Item = (String, &'a str)>) -> Vec<Span<'a>> {
    let th = app.theme;
    let mut spans = Vec::new();
    for (k, label) in pairs {
        spans.push(Span::raw(" "));
        spans.push(Span::styled(k, th.key()));
        spans.push(Span::raw(format!(" {label} ")));
    }
    spans
}

pub fn render(app: &App, area: Rect, buf: &mut Buffer) {
    let th = app.theme;
    let spans = match app.mode {
        Mode::Filter => {
            let mut s = vec![
                Span::styled(" filter: ", th.key()),
                Span::raw(app.filter.text.clone()),
                Span::styled(" ", th.selected()),
            ];
            s.extend(keys(
                app,
                [("Enter".to_string(), "keep"), ("Esc".to_string(), "clear")],
            ));
            s.extend([
                Span::styled("  words match a state (fail, run, queued…)", th.dim()),
                Span::styled(" or the task line", th.dim()),
                Span::raw(""),
            ]);
            s
        }
        Mode::Submit => keys(
            app,
            keymap::PROMPT_FOOTER
                .iter()
                .map(|(k, l)| (k.to_string(), *l)),
        ),
        Mode::Help => keys(
            app,
            [
                (app.keys.first_keys(&[Action::Help, Action::Back]), "close"),
                (app.keys.first_keys(&[Action::Up, Action::Down]), "scroll"),
            ],
        ),
        Mode::Detail => keys(
            app,
            [
                (
                    app.keys.first_keys(&[Action::Back, Action::Detail]),
                    "close",
                ),
                (app.keys.first_keys(&[Action::Up, Action::Down]), "scroll"),
            ],
        ),
        Mode::Normal => {
            let mut s = Vec::new();
            if app.quitting == Quitting::Graceful {
                s.push(Span::styled(" stopping workers… ", th.banner()));
                s.push(Span::styled(app.key_of(Action::Quit), th.key()));
                s.push(Span::raw(" kills now "));
            }
            s.extend(keys(
                app,
                keymap::FOOTER
                    .iter()
                    .filter_map(|a| app.keys.first_key(*a).map(|k| (k, a.label()))),
            ));
            s
        }
    };
    // Whole entries only: drop the last ones that do not fit.
    let mut line = Line::default();
    let mut used = 0usize;
    for chunk in spans.chunks(3) {
        let w: usize = chunk.iter().map(|s| s.width()).sum();
        if used + w > area.width as usize && used > 0 {
            break;
        }
        used += w;
        line.spans.extend(chunk.iter().cloned());
    }
    put(buf, area.x, area.y, &line, area.width);
}
