//! What the keys do while the timeline is shown: the cursor moves in time,
//! ↑/↓ pick a lane, zoom, back to live, and the bar under the cursor opens
//! in the detail view.

use crate::ui::focus::{Mode, Pane};
use crate::ui::msg::Action;
use crate::ui::status::Level;

use super::App;
use super::timeline::Micros;

/// The columns a lane's label takes (slot, worker, utilisation).
pub const LABEL_WIDTH: u16 = 14;

impl App {
    /// The timeline's clock: µs since the start.
    pub fn timeline_now(&self) -> Micros {
        u64::try_from(self.now.saturating_duration_since(self.start).as_micros())
            .unwrap_or(u64::MAX)
    }

    /// The timeline's cells across (the tasks pane less the labels).
    pub fn timeline_cells(&self) -> u16 {
        self.areas().tasks.width.saturating_sub(LABEL_WIDTH).max(1)
    }

    /// The timeline's lanes on screen (below its title and time axis).
    pub fn timeline_rows(&self) -> usize {
        (self.areas().tasks.height as usize).saturating_sub(2).max(1)
    }

    /// A key while the timeline is shown (or the key that shows it). True
    /// when dealt with here.
    pub(super) fn timeline_action(&mut self, a: Action) -> bool {
        if a == Action::Timeline {
            self.timeline.shown = !self.timeline.shown;
            if self.timeline.shown {
                self.focus = Pane::Tasks;
            }
            return true;
        }
        let timeline_key = matches!(
            a,
            Action::Earlier | Action::Later | Action::ZoomIn | Action::ZoomOut
        );
        if !self.timeline.shown || self.focus != Pane::Tasks {
            if timeline_key {
                let v = self.key_of(Action::Timeline);
                self.toast(Level::Info, format!("{v} shows the timeline"));
            }
            return timeline_key;
        }
        let (now, cells, rows) = (
            self.timeline_now(),
            self.timeline_cells(),
            self.timeline_rows(),
        );
        let t = &mut self.timeline;
        match a {
            Action::Earlier => t.move_cursor(-1, now, cells),
            Action::Later => t.move_cursor(1, now, cells),
            Action::PageUp => t.move_cursor(-i64::from(cells / 2), now, cells),
            Action::PageDown => t.move_cursor(i64::from(cells / 2), now, cells),
            Action::ZoomIn => t.zoom(true, now, cells),
            Action::ZoomOut => t.zoom(false, now, cells),
            Action::Up => t.move_lane(-1, rows),
            Action::Down => t.move_lane(1, rows),
            Action::Home => t.to_start(now, cells),
            Action::End => t.live(),
            Action::Detail => match t.selected_task(now) {
                Some(task) => {
                    self.detail = Some(task);
                    self.mode = Mode::Detail;
                    self.overlay_scroll = 0;
                }
                None => self.toast(Level::Info, "no task under the cursor"),
            },
            _ => return false,
        }
        true
    }
}
