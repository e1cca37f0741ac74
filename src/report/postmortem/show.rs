//! The report for people: plain text for the terminal, or Markdown for
//! pasting into an issue. Both say the same, in the same order.

use std::fmt::Write as _;

use super::{Report, TaskFigure};
use crate::report::human;

/// Seconds for a person: `1.25s`, `3m 20s`, `850ms`, `42µs`.
fn secs(s: f64) -> String {
    if s < 1e-3 {
        format!("{:.0}µs", s * 1e6)
    } else if s < 1.0 {
        format!("{:.1}ms", s * 1e3)
    } else if s < 60.0 {
        format!("{s:.2}s")
    } else {
        human(std::time::Duration::from_secs_f64(s))
    }
}

fn bytes(b: Option<u64>) -> String {
    match b {
        None => "-".into(),
        Some(b) if b >= 1 << 30 => format!("{:.1} GiB", b as f64 / f64::from(1u32 << 30)),
        Some(b) if b >= 1 << 20 => format!("{:.1} MiB", b as f64 / f64::from(1u32 << 20)),
        Some(b) => format!("{:.0} KiB", b as f64 / 1024.0),
    }
}

fn pct(x: f64) -> String {
    format!("{:.0}%", x * 100.0)
}

/// A table, as aligned text or as Markdown.
struct Table {
    head: Vec<&'static str>,
    rows: Vec<Vec<String>>,
}

impl Table {
    fn new(head: &[&'static str]) -> Table {
        Table {
            head: head.to_vec(),
            rows: Vec::new(),
        }
    }

    fn row(&mut self, cells: Vec<String>) {
        self.rows.push(cells);
    }

    fn text(&self, out: &mut String) {
        let mut widths: Vec<usize> = self.head.iter().map(|h| h.chars().count()).collect();
        for r in &self.rows {
            for (w, c) in widths.iter_mut().zip(r) {
                *w = (*w).max(c.chars().count());
            }
        }
        let line = |cells: Vec<&str>, out: &mut String| {
            let mut s = String::from(" ");
            for (i, (c, w)) in cells.iter().zip(&widths).enumerate() {
                // The first column (a name) and the last (a task line) to the left.
                if i == 0 || i + 1 == cells.len() {
                    let _ = write!(s, " {c:<w$}");
                } else {
                    let _ = write!(s, " {c:>w$}");
                }
            }
            out.push_str(s.trim_end());
            out.push('\n');
        };
        line(self.head.clone(), out);
        for r in &self.rows {
            line(r.iter().map(String::as_str).collect(), out);
        }
    }

    fn markdown(&self, out: &mut String) {
        let esc = |c: &str| c.replace('|', "\\|").replace('\n', " ");
        let _ = writeln!(out, "| {} |", self.head.join(" | "));
        let _ = writeln!(out, "|{}", " --- |".repeat(self.head.len()));
        for r in &self.rows {
            let cells: Vec<String> = r.iter().map(|c| esc(c)).collect();
            let _ = writeln!(out, "| {} |", cells.join(" | "));
        }
    }
}

/// What either form shows: headed sections of lines and tables.
enum Part {
    Heading(String),
    Para(String),
    Table(Table),
}

fn tasks_table(list: &[TaskFigure]) -> Table {
    let mut t = Table::new(&["task", "worker", "state", "wall", "from", "to", "line"]);
    for s in list {
        let line: String = s.line.chars().take(60).collect();
        t.row(vec![
            s.task.to_string(),
            s.worker.map_or("-".into(), |w| w.to_string()),
            s.state.clone(),
            secs(s.wall_s),
            format!("{:.2}s", s.start_s),
            format!("{:.2}s", s.end_s),
            line,
        ]);
    }
    t
}

fn parts(r: &Report) -> Vec<Part> {
    let mut p = Vec::new();
    p.push(Part::Heading(format!("pooltop report: {}", r.title)));
    let c = &r.counts;
    let mut lines = format!(
        "{}: {} lines{}\n\
         {} submitted: {} done, {} failed, {} timed out, {} cancelled (exit status {})\n\
         wall {}, task time {}, speedup {:.2}, efficiency {} on {} worker(s), utilisation {}",
        r.file,
        r.lines,
        if r.complete {
            ""
        } else {
            ", no summary: the run was cut short"
        },
        c.submitted,
        c.done,
        c.failed,
        c.timed_out,
        c.cancelled,
        r.exit_status,
        secs(r.wall_s),
        secs(r.task_s),
        r.speedup,
        pct(r.efficiency),
        r.workers,
        pct(r.utilisation),
    );
    if let Some(s) = &r.stopped {
        let _ = write!(lines, "\nstopped reading at {s}");
    }
    p.push(Part::Para(lines));
    p.push(Part::Heading("Workers".into()));
    p.push(Part::Table(workers_table(r)));
    times(r, &mut p);
    p.push(Part::Heading("Retries, crashes and failures".into()));
    p.push(Part::Para(troubles(r)));
    p
}

/// Each worker's counts, time and memory.
fn workers_table(r: &Report) -> Table {
    let mut t = Table::new(&[
        "worker",
        "slot",
        "pid",
        "done",
        "failed",
        "timed out",
        "busy",
        "lifetime",
        "util",
        "peak RSS",
        "ended",
    ]);
    for w in &r.per_worker {
        t.row(vec![
            w.worker.to_string(),
            w.slot.map_or("-".into(), |s| s.to_string()),
            w.pid.map_or("-".into(), |s| s.to_string()),
            w.done.to_string(),
            w.failed.to_string(),
            w.timed_out.to_string(),
            secs(w.busy_s),
            secs(w.lifetime_s),
            pct(w.utilisation),
            bytes(w.peak_rss),
            w.exit.clone().unwrap_or_else(|| "-".into()),
        ]);
    }
    t
}

/// Run times per kind, the slowest tasks and the stragglers.
fn times(r: &Report, p: &mut Vec<Part>) {
    p.push(Part::Heading("Run time per kind".into()));
    let mut t = Table::new(&["kind", "tasks", "min", "median", "p95", "max", "total"]);
    for k in &r.kinds {
        t.row(vec![
            k.kind.clone(),
            k.tasks.to_string(),
            secs(k.min_s),
            secs(k.median_s),
            secs(k.p95_s),
            secs(k.max_s),
            secs(k.total_s),
        ]);
    }
    p.push(Part::Table(t));

    p.push(Part::Heading(format!(
        "The {} slowest tasks",
        r.slowest.len()
    )));
    p.push(Part::Table(tasks_table(&r.slowest)));

    p.push(Part::Heading("Stragglers".into()));
    match r.tail_from_s {
        Some(from) => {
            p.push(Part::Para(format!(
                "From {from:.2}s to the end ({}), at most half the workers were busy; \
                 these tasks were running then:",
                secs(r.wall_s - from)
            )));
            p.push(Part::Table(tasks_table(&r.stragglers)));
        }
        None => p.push(Part::Para(
            "None: the workers stayed busy until the end.".into(),
        )),
    }
}

/// Retries, crashes and the causes of failures, one per line.
fn troubles(r: &Report) -> String {
    let mut lines = format!(
        "{} retried attempt(s), {} worker crash(es)",
        r.retries, r.crashes
    );
    for e in &r.retried {
        let _ = write!(
            lines,
            "\n  retry at {:.2}s: task {} on worker {}: {}",
            e.t,
            e.task.unwrap_or(0),
            e.worker.map_or("-".into(), |w| w.to_string()),
            e.why
        );
    }
    for e in &r.crashed {
        let _ = write!(
            lines,
            "\n  crash at {:.2}s: worker {}: {}",
            e.t,
            e.worker.map_or("-".into(), |w| w.to_string()),
            e.why
        );
    }
    for c in &r.causes {
        let _ = write!(lines, "\n  {} task(s): {}", c.tasks, c.why);
    }
    lines
}

/// The report as text for the terminal.
pub fn text(r: &Report) -> String {
    let mut out = String::new();
    for part in parts(r) {
        match part {
            Part::Heading(h) => {
                if !out.is_empty() {
                    out.push('\n');
                }
                let _ = writeln!(out, "{h}");
            }
            Part::Para(s) => {
                let _ = writeln!(out, "{s}");
            }
            Part::Table(t) => t.text(&mut out),
        }
    }
    out
}

/// The report as Markdown.
pub fn markdown(r: &Report) -> String {
    let mut out = String::new();
    for (i, part) in parts(r).into_iter().enumerate() {
        match part {
            Part::Heading(h) => {
                let level = if i == 0 { "##" } else { "###" };
                let _ = writeln!(out, "{level} {h}\n");
            }
            Part::Para(s) => {
                for l in s.lines() {
                    let _ = writeln!(out, "{}  ", l.trim_start());
                }
                out.push('\n');
            }
            Part::Table(t) => {
                t.markdown(&mut out);
                out.push('\n');
            }
        }
    }
    out
}
