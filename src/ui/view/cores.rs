//! The cores pane: every core's load with a short history, as gauges when
//! there is room and as a heat strip (one shaded cell per core) when not.
//! Its top-right corner shows what pooltop itself costs.

use ratatui::buffer::Buffer;
use ratatui::text::{Line, Span};
use ratatui::widgets::Widget;

use crate::ui::app::App;
use crate::ui::fmt;
use crate::ui::layout::{Areas, CORE_BAR, CoresForm, core_label_width};

use super::{pane, put};

pub fn render(app: &App, a: &Areas, buf: &mut Buffer) {
    let th = app.theme;
    let area = a.cores;
    let m = &app.machine;
    let n = m.cores.len();
    let mean = m.mean.back().copied().unwrap_or(0.0);
    let title = vec![Span::raw(format!(
        "CPU per core (100% = one core) · machine {mean:.0}%"
    ))];
    let corner = match (m.own_cpu, m.monitor_cpu) {
        (Some(own), Some(mon)) => format!(" pooltop {own:.1}% · monitor {mon:.1}% "),
        _ => " pooltop –% ".to_string(),
    };
    let right = Line::styled(corner, th.dim());
    pane(app, title, Some(right), false).render(area, buf);
    if area.height < 2 {
        return;
    }
    let y0 = area.y + 1;
    if n == 0 {
        put(
            buf,
            area.x,
            y0,
            &Line::styled(" waiting for the first sample…", th.dim()),
            area.width,
        );
        return;
    }
    match a.cores_form {
        CoresForm::Bars { per_line, .. } => {
            let cell_w = (area.width as usize / per_line).max(1);
            let label_w = core_label_width(n);
            let hist_w = cell_w
                .saturating_sub(1 + label_w + 1 + CORE_BAR + 5 + 1 + 1)
                .max(1);
            for i in 0..n {
                let (row, col) = (i / per_line, i % per_line);
                let y = y0 + row as u16;
                if y >= area.y + area.height {
                    break;
                }
                let x = area.x + (col * cell_w) as u16;
                let load = m.latest(i);
                let line = Line::from(vec![
                    Span::raw(format!(" {:<w$} ", format!("cpu{i}"), w = label_w)),
                    Span::styled(fmt::gauge(load, CORE_BAR), th.load(load)),
                    Span::raw(format!("{load:>4.0}%")),
                    Span::raw(" "),
                    Span::styled(
                        fmt::sparkline(m.cores[i].iter(), 100.0, hist_w),
                        th.load(load),
                    ),
                ]);
                put(buf, x, y, &line, cell_w as u16);
            }
        }
        CoresForm::Heat { per_line, lines } => {
            for l in 0..lines.saturating_sub(1) {
                let y = y0 + l as u16;
                if y >= area.y + area.height {
                    return;
                }
                let first = l * per_line;
                let last = ((l + 1) * per_line).min(n) - 1;
                let mut spans = vec![Span::raw(format!(" {:<7}", format!("{first}-{last}")))];
                for i in first..=last {
                    if i > first && (i - first) % 8 == 0 {
                        spans.push(Span::raw(" "));
                    }
                    let load = m.latest(i);
                    spans.push(Span::styled(
                        fmt::bar_cell(load, 100.0).to_string(),
                        th.load(load),
                    ));
                }
                put(buf, area.x, y, &Line::from(spans), area.width);
            }
            let y = y0 + lines.saturating_sub(1) as u16;
            if y < area.y + area.height {
                let w = (area.width as usize).saturating_sub(16);
                let line = Line::from(vec![
                    Span::raw(format!(" mean {mean:>3.0}%   ")),
                    Span::styled(fmt::sparkline(m.mean.iter(), 100.0, w), th.load(mean)),
                ]);
                put(buf, area.x, y, &line, area.width);
            }
        }
    }
}
