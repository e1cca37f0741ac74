//! `pooltop run TASKFILE` and `pooltop demo`: task lines on a pool, shown
//! by the dashboard when stdout is a terminal, else by the headless runner.
//! (`pooltop run -- CMD` is a command template: see [`super::template`].)

use std::io::{self, IsTerminal};
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use crate::cli::{PoolArgs, RunArgs};
use crate::report::outputs::{FileLine, OutputClaims, SharedClaims};
use crate::report::record::RecordMeta;
use crate::report::results::Origins;
use crate::{config, demo, headless};
use pooltop::task::TaskSpec;
use pooltop::{Task, task};

use super::{
    EXIT_TEMPLATE_USAGE, Failure, Loaded, dashboard_options, json_sink, load_settings, pool_name,
    read_taskfile, template_in_argv,
};

/// `pooltop run`: a task file, or (after `--`) a command template.
pub fn run_tasks(mut args: RunArgs) -> Result<u8, Failure> {
    if let Some(py) = args.py.take() {
        return super::template::run_py(args, py).map_err(|mut f| {
            f.code = EXIT_TEMPLATE_USAGE;
            f
        });
    }
    // `pooltop run --` alone is a template too: each input is a command.
    let words = args
        .command
        .clone()
        .or_else(|| template_in_argv().then(Vec::new));
    if let Some(words) = words {
        if args.quiet {
            return Err(Failure {
                code: EXIT_TEMPLATE_USAGE,
                ..Failure::usage("--quiet goes with a task file: pooltop run [OPTIONS] TASKFILE")
            });
        }
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
    let claims = claim_outputs(
        &loaded.settings.out,
        &name,
        lines.iter().map(|l| (&l.spec, l.line_no)),
    )?;
    let printing = headless::Printing {
        origins: Origins {
            source: name.clone(),
            first: None,
            lines: lines.iter().map(|l| l.line_no).collect(),
        },
        keep_order: args.batch.keep_order,
        quiet: args.quiet,
        json_on_stdout: false,
    };
    let tasks: Vec<Task> = lines
        .into_iter()
        .map(|l| Task {
            spec: l.spec,
            line: l.text.into(),
        })
        .collect();
    // `py` tasks import from the task file's folder first, as `python
    // script.py` would (from the current folder when tasks come from stdin).
    let py_path = match args.taskfile.as_deref() {
        Some(p) if p != Path::new("-") => p.parent().and_then(|d| {
            std::fs::canonicalize(if d.as_os_str().is_empty() {
                Path::new(".")
            } else {
                d
            })
            .ok()
        }),
        _ => None,
    };
    let no_file = args.taskfile.as_deref().is_none_or(|p| p == Path::new("-"));
    let title = title_of(&name, no_file, &tasks, args.pool.keep_alive);
    let run = Run {
        title: &title,
        claims,
        printing,
        work_dir: None,
        py_path,
    };
    run_pool(&args.pool, loaded, tasks, run)
}

/// Claims the output file of every task (with its line number) of the task
/// file `name`: two tasks that would write the same file are refused, each
/// collision naming both lines, before anything runs.
fn claim_outputs<'a>(
    out_dir: &Path,
    name: &str,
    tasks: impl Iterator<Item = (&'a TaskSpec, usize)>,
) -> Result<SharedClaims, Failure> {
    let mut claims = OutputClaims::new(out_dir);
    let origins = tasks.map(|(spec, line)| (spec, FileLine(name, line)));
    if let Err(mut lines) = claims.claim(origins) {
        lines.push(format!(
            "{name}: {} task(s) would overwrite the output of another; nothing was run",
            lines.len()
        ));
        return Err(Failure {
            lines,
            code: super::EXIT_USAGE,
        });
    }
    Ok(SharedClaims::new(claims))
}

/// What `pooltop status` and an attached dashboard say a task-file pool
/// runs: the task file's name (`<stdin>` for tasks piped in), or, for a
/// `--keep-alive` pool given no file and no tasks, that it only runs what is
/// submitted.
fn title_of(name: &str, no_file: bool, tasks: &[Task], keep_alive: bool) -> String {
    if keep_alive && no_file && tasks.is_empty() {
        KEPT_ALIVE_TITLE.to_string()
    } else {
        name.to_string()
    }
}

/// The title of a `--keep-alive` pool started with no task file.
const KEPT_ALIVE_TITLE: &str = "(kept alive, no task file)";

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
    let claims = claim_outputs(
        &loaded.settings.out,
        "demo",
        demo.tasks().iter().zip(1..).map(|(t, n)| (&t.spec, n)),
    )?;
    let printing = headless::Printing {
        origins: Origins {
            source: "demo".into(),
            first: None,
            lines: (1..=demo.tasks().len()).collect(),
        },
        ..headless::Printing::default()
    };
    pooltop::say!(
        "pooltop: demo: {} tasks; thumbnails go to {}",
        demo.tasks().len(),
        demo.out_dir().display()
    );
    let run = Run {
        title: "demo",
        claims,
        printing,
        work_dir: Some(demo.work_dir()),
        py_path: None,
    };
    run_pool(&args, loaded, demo.tasks().to_vec(), run)
}

/// What a run of task lines is, besides its tasks and settings.
struct Run<'a> {
    /// What it runs, for the dashboard's header and `pooltop status`.
    title: &'a str,
    /// The files its tasks write.
    claims: SharedClaims,
    /// What the headless runner prints as tasks finish.
    printing: headless::Printing,
    /// Where the workers run (the demo's folder), if not here.
    work_dir: Option<&'a Path>,
    /// The folder `py` tasks import from first (the task file's).
    py_path: Option<std::path::PathBuf>,
}

fn run_pool(args: &PoolArgs, loaded: Loaded, tasks: Vec<Task>, run: Run) -> Result<u8, Failure> {
    let Run {
        title,
        claims,
        printing,
        work_dir,
        py_path,
    } = run;
    let mut config = loaded.settings.pool_config();
    config.work_dir = work_dir.map(Path::to_path_buf);
    config.python.init = args.py_init.clone();
    config.python.path = py_path;
    // Held until the run ends: the ssh master connections.
    let _ssh = super::remote::place(&args.remote, &mut config)?;
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
    let (pool, mut events, _control) =
        crate::control::start_pool_claiming(config, &name, title, claims.clone())?;
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
            claims: Some(claims),
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
        printing: headless::Printing {
            json_on_stdout,
            ..printing
        },
    };
    let code = headless::run(pool, events, tasks, opts)?;
    recording.finish()?;
    Ok(code as u8)
}
