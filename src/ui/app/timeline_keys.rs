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
        (self.areas().tasks.height as usize)
            .saturating_sub(2)
            .max(1)
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
            Action::Home => t.cursor_to_start(now, cells),
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

#[cfg(test)]
mod tests {
    use crate::ui::app::AppConfig;
    use crate::ui::focus::{Mode, Pane};
    use crate::ui::msg::Action;
    use crate::ui::testkit::Script;
    use pooltop::engine::events::{PoolEvent, TaskId, TaskState, WorkerId};

    /// Two workers: w1 ran #1 over 0–10 s and #3 over 12–20 s; w2 ran #2
    /// over 0–4 s and idles since. The clock is at 30 s.
    fn script() -> Script {
        let mut s = Script::new(AppConfig::default(), 100, 30);
        for w in 1..=2 {
            s.worker(w, 100 + w);
            s.msg(PoolEvent::WorkerSlot {
                worker: WorkerId(w),
                slot: w,
            });
        }
        s.queue(&["sleep 10", "fail x", "sleep 8"]);
        s.at(0.0).start(1, 1).start(2, 2);
        s.at(4.0)
            .finish(2, 2, TaskState::Failed, "", Some("x"), 4.0);
        s.at(10.0).finish(1, 1, TaskState::Done, "", None, 10.0);
        s.at(12.0).start(3, 1);
        s.at(20.0).finish(3, 1, TaskState::Done, "", None, 8.0);
        s.at(30.0);
        s
    }

    #[test]
    fn v_shows_the_timeline_and_the_keys_move_zoom_and_go_live() {
        let mut s = script();
        s.msg(Action::ZoomIn);
        assert!(
            s.app.toast.is_some(),
            "zoom without the timeline says how to show it"
        );
        assert_eq!(
            s.app.timeline.per_cell,
            super::super::timeline::DEFAULT_PER_CELL
        );
        s.msg(Action::Timeline);
        assert!(s.app.timeline.shown);
        assert_eq!(s.app.focus, Pane::Tasks);
        s.msg(Action::ZoomIn);
        assert_eq!(s.app.timeline.per_cell, 250_000);
        // 20 cells of 0.25 s back from the present: 25 s.
        for _ in 0..20 {
            s.msg(Action::Earlier);
        }
        assert_eq!(s.app.timeline.cursor, Some(30_000_000 - 1 - 5_000_000));
        assert!(!s.app.timeline.is_live());
        s.msg(Action::Home);
        assert_eq!(s.app.timeline.cursor, Some(0));
        let (t0, _) = s
            .app
            .timeline
            .window(s.app.timeline_now(), s.app.timeline_cells());
        assert_eq!(t0, 0, "the window scrolled back to the start");
        s.msg(Action::End);
        assert!(s.app.timeline.is_live());
        s.msg(Action::Timeline);
        assert!(!s.app.timeline.shown, "v again: the tasks");
    }

    #[test]
    fn enter_opens_the_bar_under_the_cursor_in_the_detail_view() {
        let mut s = script();
        s.msg(Action::Timeline);
        // Lane 1 (w1): from the start, 15 s on lands on #3 (12–20 s).
        s.msg(Action::Home);
        for _ in 0..30 {
            s.msg(Action::Later);
        }
        s.msg(Action::Detail);
        assert_eq!(s.app.mode, Mode::Detail);
        assert_eq!(s.app.detail, Some(TaskId(3)));
        s.msg(Action::Back);
        // Lane 2 (w2) at the start: #2, the failed one.
        s.msg(Action::Down);
        s.msg(Action::Home);
        s.msg(Action::Detail);
        assert_eq!(s.app.detail, Some(TaskId(2)));
        s.msg(Action::Back);
        // Lane 2 at 25 s: idle, nothing near.
        for _ in 0..50 {
            s.msg(Action::Later);
        }
        s.msg(Action::Detail);
        assert_eq!(s.app.mode, Mode::Normal);
        assert!(
            s.app
                .toast
                .as_ref()
                .is_some_and(|t| t.0.contains("no task"))
        );
    }
}
