//! `pooltop run TASKFILE` and `pooltop demo`: task lines on a pool, shown
//! by the dashboard when stdout is a terminal, else by the headless runner.
//! (`pooltop run -- CMD` is a command template: see [`super::template`].)

use std::io::{self, IsTerminal};
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use crate::cli::{PoolArgs, RunArgs};
use crate::report::record::RecordMeta;
use crate::{config, demo, headless};
use pooltop::{Task, task};

use super::{
    EXIT_TEMPLATE_USAGE, Failure, Loaded, dashboard_options, json_sink, load_settings, pool_name,
    read_taskfile, template_in_argv,
};

/// `pooltop run`: a task file, or (after `--`) a command template.
pub fn run_tasks(args: RunArgs) -> Result<u8, Failure> {
    // `pooltop run --` alone is a template too: each input is a command.
    let words = args
        .command
        .clone()
        .or_else(|| template_in_argv().then(Vec::new));
    if let Some(words) = words {
        return super::template::run(args, words).map_err(|mut f| {
            f.code = EXIT_TEMPLATE_USAGE;
            f
        });
    }
    if let Some(opt) = args.batch.template_only_option() {
        return Err(Failure::usage(format!(
            "{opt} goes with a command template: pooltop run [OPTIONS] -- CMD [ARGS…]"
        )));
    }
    let loaded = load_settings(&args.pool)?;
    let (name, text) = read_taskfile(args.taskfile.as_deref())?;
    let lines =
        task::parse_lines(&text).map_err(|errors| Failure::bad_lines(&name, &errors, "run"))?;
    let tasks: Vec<Task> = lines
        .into_iter()
        .map(|l| Task {
            spec: l.spec,
            line: l.text.into(),
        })
        .collect();
    run_pool(&args.pool, loaded, tasks, &name, None)
}

/// `pooltop demo` (and `pooltop` alone): the built-in demo workload.
pub fn run_demo(args: PoolArgs) -> Result<u8, Failure> {
    let mut loaded = load_settings(&args)?;
    // The demo's thumbnails go to a temporary folder unless an output folder
    // was asked for (by a flag, the environment or the config file).
    let out = &loaded.settings;
    let out = (*out.origin(config::Key::Out) != config::Origin::Default).then(|| out.out.clone());
    let demo = demo::Demo::prepare(out.as_deref())
        .map_err(|e| Failure::usage(format!("cannot prepare the demo: {e}")))?;
    loaded.settings.out = demo.out_dir().to_path_buf();
    pooltop::say!(
        "pooltop: demo: {} tasks; thumbnails go to {}",
        demo.tasks().len(),
        demo.out_dir().display()
    );
    run_pool(
        &args,
        loaded,
        demo.tasks().to_vec(),
        "demo",
        Some(demo.work_dir()),
    )
}

fn run_pool(
    args: &PoolArgs,
    loaded: Loaded,
    tasks: Vec<Task>,
    title: &str,
    work_dir: Option<&Path>,
) -> Result<u8, Failure> {
    let mut config = loaded.settings.pool_config();
    config.work_dir = work_dir.map(Path::to_path_buf);
    let name = pool_name(args)?;
    // The dashboard whenever stdout is a terminal, unless --headless (or JSON
    // lines are asked for on stdout, which the dashboard would cover).
    let json_on_stdout = args.json.as_deref() == Some(Path::new("-"));
    let dashboard = !args.headless && !json_on_stdout && io::stdout().is_terminal();
    if dashboard {
        // The engine samples for the dashboard, at its refresh rate.
        config.sample_every = Some(loaded.settings.refresh);
    }
    let json = if dashboard { None } else { json_sink(args)? };
    let meta = RecordMeta {
        title: title.to_string(),
        workers: config.workers,
        sample_every: config.sample_every,
    };
    let mut recording = super::recording::open(args, &loaded.settings, meta)?;
    // The control server lives until the face returns.
    let (pool, mut events, _control) = crate::control::start_pool(config, &name, title)?;
    if dashboard {
        // The dashboard's events are recorded as they are read.
        let recorder = recording.recorder.take().map(|r| Arc::new(Mutex::new(r)));
        if let Some(r) = &recorder {
            let r = r.clone();
            r.lock()
                .unwrap_or_else(|e| e.into_inner())
                .start(Instant::now());
            events.add_tap(Box::new(move |ev| {
                r.lock().unwrap_or_else(|e| e.into_inner()).event(ev);
            }));
        }
        let opts = crate::ui::Options {
            title: title.to_string(),
            exit_when_done: args.exit_when_done,
            ..dashboard_options(&loaded)
        };
        let outcome = crate::ui::run_with(pool, events, tasks, opts)?;
        if let Some(r) = recorder {
            r.lock().unwrap_or_else(|e| e.into_inner()).finish();
        }
        recording.finish()?;
        pooltop::say!("{}", outcome.summary_text());
        if let Some(sig) = outcome.signal {
            pooltop::say!(
                "pooltop: stopped by {}",
                pooltop::platform::signal_name(sig)
            );
        }
        return Ok(outcome.exit_code() as u8);
    }
    let opts = headless::Options {
        json,
        record: recording.recorder.take(),
        name,
        keep_alive: args.keep_alive,
    };
    let code = headless::run(pool, events, tasks, opts)?;
    recording.finish()?;
    Ok(code as u8)
}
