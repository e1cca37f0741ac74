//! `pooltop replay FILE`: the dashboard on a recorded run (`--record`, or a
//! `--json` event stream), read-only; `--follow` for a run still being
//! written; `--check` replays it to the end without a terminal and prints
//! where it ended.

use std::fs::File;
use std::io::{BufReader, IsTerminal};
use std::path::Path;

use serde_json::json;

use super::{Failure, PoolArgs, dashboard_options, load_settings};
use crate::cli::ReplayArgs;
use crate::report::replay_read::Reader;
use crate::ui::app::App;
use crate::ui::app::playback::Playback;
use crate::ui::replay::{Open, Session};

fn opener(path: &Path, follow: bool) -> Open<BufReader<File>> {
    let path = path.to_path_buf();
    let name = path.display().to_string();
    Box::new(move || {
        let f = File::open(&path)?;
        Ok(Reader::new(BufReader::new(f), name.clone(), follow))
    })
}

pub fn replay(args: ReplayArgs) -> Result<u8, Failure> {
    let name = args.file.display().to_string();
    let open = opener(&args.file, args.follow && !args.check);
    let mut session =
        Session::new(open).map_err(|e| Failure::usage(format!("cannot open {name}: {e}")))?;
    if args.check {
        return Ok(check(&mut session, &name));
    }
    if !std::io::stdout().is_terminal() {
        return Err(Failure::usage(
            "replay needs a terminal; `pooltop replay --check FILE` prints where a recording ends",
        ));
    }
    let loaded = load_settings(&PoolArgs {
        config: args.config.clone(),
        ..PoolArgs::default()
    })?;
    let playback = Playback::new(name, args.follow);
    crate::ui::replay::run(session, playback, dashboard_options(&loaded))?;
    Ok(0)
}

/// Replays the whole file through the dashboard's model and prints the
/// state it ends in: the task counts and each worker's done and failed.
/// 0 when the file was read to its end, 1 when it stopped at damage.
fn check(session: &mut Session<BufReader<File>>, name: &str) -> u8 {
    let cfg = session.config();
    let mut app = App::new(
        cfg,
        crate::ui::theme::Theme::MONO,
        std::time::Instant::now(),
    );
    app.replay = Some(Playback::new(name, false));
    session.play_to_end(&mut app);
    let c = &app.tasks.counts;
    let workers: Vec<_> = app
        .workers
        .rows()
        .map(|r| json!({"worker": r.id.0, "slot": r.slot, "done": r.done, "failed": r.failed}))
        .collect();
    let stopped = app.replay.as_ref().and_then(|p| p.stopped.clone());
    let at = app.replay.as_ref().map_or(0.0, |p| p.at.as_secs_f64());
    let v = json!({
        "done": c.done, "failed": c.failed, "timed_out": c.timed_out,
        "cancelled": c.cancelled, "queued": c.queued, "running": c.running,
        "stopped": app.stopped.is_some(), "t": at, "workers": workers,
        "spans": app.timeline.span_count(), "lines": session.lines_read(),
        "damage": stopped,
    });
    println!("{v}");
    match stopped {
        Some(why) => {
            pooltop::say!("pooltop: replay stopped at {why}");
            1
        }
        None => 0,
    }
}
