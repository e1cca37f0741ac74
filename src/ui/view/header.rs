//! The header: the run's title, elapsed time and ETA, with a loud banner when
//! dispatch is paused or the pool is stopping; the workers at a glance; the
//! task counts with throughput.

use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};

use crate::ui::app::playback::Playback;
use crate::ui::app::{App, Quitting};
use crate::ui::fmt;
use crate::ui::msg::Action;
use crate::ui::status::StateKind;

use super::put;

/// The banner, if the pool's state deserves one.
fn banner(app: &App) -> Option<String> {
    let c = &app.tasks.counts;
    let q = app.key_of(Action::Quit);
    if app.pool_gone && app.stopped.is_none() {
        Some(format!(" POOL GONE · {q} quits "))
    } else if app.stopped.is_some() {
        Some(" STOPPED ".to_string())
    } else if app.quitting == Quitting::Killing {
        Some(" KILLING ALL WORKERS ".to_string())
    } else if app.quitting == Quitting::Graceful {
        Some(format!(" SHUTTING DOWN · {q} again kills now "))
    } else if app.dispatch_paused {
        let p = app.key_of(Action::ToggleDispatch);
        Some(format!(" DISPATCH PAUSED · {p} resumes "))
    } else if let Some(h) = app.held.as_ref().filter(|_| c.queued > 0) {
        Some(format!(" DISPATCH HELD · {h} "))
    } else {
        app.drained
            .filter(|_| c.queued + c.running == 0)
            .map(|d| format!(" ALL {} TASKS FINISHED · {q} quits ", d.finished()))
    }
}

/// A replay's playback in a few words: playing or paused, how fast, and
/// whether the end (or damage) has been reached.
fn replay_state(p: &Playback) -> String {
    let mut s = if p.paused {
        "paused".to_string()
    } else if p.speed >= 1.0 {
        format!("▶ ×{}", p.speed)
    } else {
        format!("▶ ×1/{}", (1.0 / p.speed).round())
    };
    if p.stopped.is_some() {
        s.push_str(" · stopped at damage");
    } else if p.at_end && !p.follow {
        s.push_str(" · end");
    } else if p.follow {
        s.push_str(" · following");
    }
    s
}

pub fn render(app: &App, area: Rect, buf: &mut Buffer) {
    let th = app.theme;
    let now = app.now;
    let (mut alive, mut busy, mut idle, mut paused, mut stopping, mut hung) = (0, 0, 0, 0, 0, 0);
    for r in app.workers.alive() {
        alive += 1;
        match app.workers.kind(r) {
            StateKind::Busy => busy += 1,
            StateKind::Hung => {
                busy += 1;
                hung += 1;
            }
            StateKind::Idle | StateKind::Starting => idle += 1,
            StateKind::Paused => paused += 1,
            StateKind::Stopping | StateKind::Retiring => stopping += 1,
            _ => {}
        }
    }
    let c = &app.tasks.counts;

    // Line 1: title, and the banner on the right.
    let b = banner(app);
    let bw = b.as_ref().map_or(0, |b| b.chars().count() as u16);
    let elapsed = now.saturating_duration_since(app.start);
    let eta = app.eta().map_or_else(|| "–".to_string(), fmt::clock);
    // The title goes last: it is the part that may be cut.
    let mut first = vec![Span::styled(" pooltop", th.bold())];
    if let Some(p) = &app.replay {
        first.push(Span::raw(" "));
        first.push(Span::styled("[replay]", th.banner()));
        first.push(Span::raw(format!(" {}", replay_state(p))));
    }
    first.push(Span::raw(format!(
        " · elapsed {} · ETA {eta} · ",
        fmt::clock(elapsed)
    )));
    first.push(Span::styled(app.cfg.title.clone(), th.bold()));
    let l1 = Line::from(first);
    put(buf, area.x, area.y, &l1, area.width.saturating_sub(bw + 1));
    if let Some(b) = b.filter(|_| bw < area.width) {
        let x = area.x + area.width - bw;
        put(buf, x, area.y, &Line::styled(b, th.banner()), bw);
    }

    // Line 2: workers and the queue.
    let mut spans = vec![
        Span::raw(format!(" workers {alive}/{}", app.target_workers)),
        Span::raw(format!(": {busy} busy · {idle} idle · ")),
        Span::styled(
            format!("{paused} paused"),
            if paused > 0 { th.warn() } else { th.text() },
        ),
        Span::raw(" · "),
        Span::styled(
            format!("{stopping} stopping"),
            if stopping > 0 { th.warn() } else { th.text() },
        ),
    ];
    if hung > 0 {
        spans.push(Span::raw(" · "));
        spans.push(Span::styled(format!("{hung} hung?"), th.bad()));
    }
    spans.push(Span::raw(format!(
        "   queue {} · running {}",
        c.queued, c.running
    )));
    put(buf, area.x, area.y + 1, &Line::from(spans), area.width);

    // Line 3: outcomes and rates.
    let fail_style = |n: u64| if n > 0 { th.bad() } else { th.text() };
    let l3 = Line::from(vec![
        Span::styled(format!(" done {}", c.done), th.good()),
        Span::raw(" · "),
        Span::styled(format!("failed {}", c.failed), fail_style(c.failed)),
        Span::raw(" · "),
        Span::styled(
            format!("timed out {}", c.timed_out),
            fail_style(c.timed_out),
        ),
        Span::raw(format!(" · cancelled {}", c.cancelled)),
        Span::raw(format!(
            "   {} now · {} avg",
            fmt::rate(app.rate.per_sec()),
            fmt::rate(app.avg_rate()),
        )),
    ]);
    put(buf, area.x, area.y + 2, &l3, area.width);
}
