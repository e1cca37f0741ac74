//! Where each pane goes. Computed once per frame from the terminal size and a
//! few counts; the views draw into it and mouse hits are resolved against the
//! very same rectangles.

use ratatui::layout::Rect;

use super::focus::Pane;

/// Smallest terminal the dashboard draws in.
pub const MIN_WIDTH: u16 = 80;
pub const MIN_HEIGHT: u16 = 24;

/// History cells beside each core's bar.
pub const CORE_HIST: usize = 8;
/// Width of each core's bar.
pub const CORE_BAR: usize = 10;

/// How the cores pane shows the cores.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CoresForm {
    /// One gauge and a history sparkline per core, `per_line` cores a line.
    Bars { per_line: usize, lines: usize },
    /// One shaded cell per core, `per_line` a line, then the mean's history.
    Heat { per_line: usize, lines: usize },
}

impl CoresForm {
    fn lines(self) -> usize {
        match self {
            CoresForm::Bars { lines, .. } | CoresForm::Heat { lines, .. } => lines,
        }
    }
}

/// The rectangles of one frame.
#[derive(Debug, Clone, Copy)]
pub struct Areas {
    pub full: Rect,
    /// The terminal is below [`MIN_WIDTH`]×[`MIN_HEIGHT`]: only a message is drawn.
    pub too_small: bool,
    pub header: Rect,
    pub cores: Rect,
    pub cores_form: CoresForm,
    pub workers: Rect,
    pub tasks: Rect,
    pub log: Rect,
    pub footer: Rect,
    /// Whether the tasks and the log sit side by side.
    pub side_by_side: bool,
}

/// Digits of the largest core number, for the `cpuN` labels.
pub fn core_label_width(n: usize) -> usize {
    3 + n.saturating_sub(1).max(1).to_string().len()
}

fn cores_form(width: usize, n: usize, max_lines: usize) -> CoresForm {
    let n = n.max(1);
    let cell = 1 + core_label_width(n) + 1 + CORE_BAR + 5 + 1 + CORE_HIST + 1;
    let per_line = (width / cell).max(1);
    let lines = n.div_ceil(per_line);
    if lines <= max_lines {
        return CoresForm::Bars { per_line, lines };
    }
    // Heat strip: a label of 8, then groups of 8 cells parted by a space.
    let groups = ((width + 1).saturating_sub(8) / 9).max(1);
    let per_line = groups * 8;
    CoresForm::Heat {
        per_line,
        lines: n.div_ceil(per_line) + 1,
    }
}

impl Areas {
    /// Lays out a frame of size `area` for `n_cores` cores and `n_workers` rows.
    pub fn compute(area: Rect, n_cores: usize, n_workers: usize) -> Areas {
        let zero = Rect::new(area.x, area.y, 0, 0);
        let mut a = Areas {
            full: area,
            too_small: area.width < MIN_WIDTH || area.height < MIN_HEIGHT,
            header: zero,
            cores: zero,
            cores_form: CoresForm::Bars {
                per_line: 1,
                lines: 1,
            },
            workers: zero,
            tasks: zero,
            log: zero,
            footer: zero,
            side_by_side: false,
        };
        if a.too_small {
            return a;
        }
        let (x, w) = (area.x, area.width);
        let h = area.height as usize;
        let max_core_lines = if h >= 40 { 8 } else { 4 };
        a.cores_form = cores_form(w as usize, n_cores, max_core_lines);
        let header_h = 3;
        let cores_h = 1 + a.cores_form.lines();
        let footer_h = 1;
        let rest = h.saturating_sub(header_h + cores_h + footer_h);
        let bottom_min = 9.max(rest * 45 / 100);
        let workers_h = (n_workers + 2).clamp(4, rest.saturating_sub(bottom_min).max(4));
        let bottom_h = rest.saturating_sub(workers_h);

        let mut y = area.y;
        let mut take = |rows: usize| {
            let r = Rect::new(x, y, w, rows as u16);
            y += rows as u16;
            r
        };
        a.header = take(header_h);
        a.cores = take(cores_h);
        a.workers = take(workers_h);
        let bottom = take(bottom_h);
        a.footer = take(footer_h);

        a.side_by_side = w >= 120;
        if a.side_by_side {
            let tw = w * 3 / 5;
            a.tasks = Rect::new(bottom.x, bottom.y, tw, bottom.height);
            a.log = Rect::new(bottom.x + tw, bottom.y, w - tw, bottom.height);
        } else {
            let th = (bottom.height * 2 / 3).max(4);
            a.tasks = Rect::new(bottom.x, bottom.y, w, th);
            a.log = Rect::new(bottom.x, bottom.y + th, w, bottom.height.saturating_sub(th));
        }
        a
    }

    /// Data rows of the workers table (below its title and header).
    pub fn worker_rows(&self) -> usize {
        (self.workers.height as usize).saturating_sub(2)
    }

    /// Data rows of the tasks list (below its title and header).
    pub fn task_rows(&self) -> usize {
        (self.tasks.height as usize).saturating_sub(2)
    }

    /// Rows of the event log (below its title).
    pub fn log_rows(&self) -> usize {
        (self.log.height as usize).saturating_sub(1)
    }

    /// A centred box of at most `w`×`h` cells.
    pub fn centered(&self, w: u16, h: u16) -> Rect {
        let w = w.min(self.full.width);
        let h = h.min(self.full.height);
        Rect::new(
            self.full.x + (self.full.width - w) / 2,
            self.full.y + (self.full.height - h) / 2,
            w,
            h,
        )
    }
}

/// Which pane a screen cell belongs to, and the data row under it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Hit {
    /// Row `n` (0 = first visible) of the workers table.
    Worker(usize),
    /// Row `n` of the tasks list.
    Task(usize),
    /// Line `n` of the event log.
    Log(usize),
    /// Somewhere else in that pane (title, header).
    Pane(Pane),
    Nothing,
}

fn contains(r: Rect, col: u16, row: u16) -> bool {
    col >= r.x && col < r.x + r.width && row >= r.y && row < r.y + r.height
}

impl Areas {
    /// What is under the cell at `col`, `row`.
    pub fn hit(&self, col: u16, row: u16) -> Hit {
        if self.too_small {
            return Hit::Nothing;
        }
        let data = |r: Rect, skip: u16| (row >= r.y + skip).then(|| (row - r.y - skip) as usize);
        if contains(self.workers, col, row) {
            return data(self.workers, 2).map_or(Hit::Pane(Pane::Workers), Hit::Worker);
        }
        if contains(self.tasks, col, row) {
            return data(self.tasks, 2).map_or(Hit::Pane(Pane::Tasks), Hit::Task);
        }
        if contains(self.log, col, row) {
            return data(self.log, 1).map_or(Hit::Pane(Pane::Log), Hit::Log);
        }
        Hit::Nothing
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fits_80x24_with_room_for_tasks() {
        let a = Areas::compute(Rect::new(0, 0, 80, 24), 2, 2);
        assert!(!a.too_small);
        assert_eq!(
            a.cores_form,
            CoresForm::Bars {
                per_line: 2,
                lines: 1
            }
        );
        assert_eq!(a.workers.height, 4);
        assert!(a.task_rows() >= 5, "{a:?}");
        assert!(a.log_rows() >= 3, "{a:?}");
        assert_eq!(a.footer.y, 23);
        let total = a.header.height
            + a.cores.height
            + a.workers.height
            + a.tasks.height
            + a.log.height
            + a.footer.height;
        assert_eq!(total, 24);
    }

    #[test]
    fn many_cores_become_a_heat_strip_and_many_workers_scroll() {
        let a = Areas::compute(Rect::new(0, 0, 80, 24), 64, 256);
        assert!(
            matches!(a.cores_form, CoresForm::Heat { lines: 2, .. }),
            "{a:?}"
        );
        assert!(a.worker_rows() >= 4);
        assert!(a.task_rows() >= 3);
        assert!(Areas::compute(Rect::new(0, 0, 79, 24), 2, 2).too_small);
        assert!(Areas::compute(Rect::new(0, 0, 80, 23), 2, 2).too_small);
    }

    #[test]
    fn hits_land_on_rows() {
        let a = Areas::compute(Rect::new(0, 0, 80, 24), 2, 2);
        assert_eq!(a.hit(5, a.workers.y + 2), Hit::Worker(0));
        assert_eq!(a.hit(5, a.tasks.y + 3), Hit::Task(1));
        assert_eq!(a.hit(5, a.header.y), Hit::Nothing);
    }
}
