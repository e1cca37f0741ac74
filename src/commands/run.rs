//! `pooltop run TASKFILE` and `pooltop demo`: task lines on a pool, shown
//! by the dashboard when stdout is a terminal, else by the headless runner.
//! (`pooltop run -- CMD` is a command template: see [`super::template`].)

use std::io::{self, IsTerminal};
use std::path::Path;

use pooltop::cli::{PoolArgs, RunArgs};
use pooltop::{Task, config, demo, headless, task};

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
    run_pool(&args.pool, loaded, tasks, &name, None, py_path)
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
        None,
    )
}

fn run_pool(
    args: &PoolArgs,
    loaded: Loaded,
    tasks: Vec<Task>,
    title: &str,
    work_dir: Option<&Path>,
    py_path: Option<std::path::PathBuf>,
) -> Result<u8, Failure> {
    let mut config = loaded.settings.pool_config();
    config.work_dir = work_dir.map(Path::to_path_buf);
    config.python.init = args.py_init.clone();
    config.python.path = py_path;
    let name = pool_name(args)?;
    // The dashboard whenever stdout is a terminal, unless --headless (or JSON
    // lines are asked for on stdout, which the dashboard would cover).
    let json_on_stdout = args.json.as_deref() == Some(Path::new("-"));
    let dashboard = !args.headless && !json_on_stdout && io::stdout().is_terminal();
    let json = if dashboard { None } else { json_sink(args)? };
    // The control server lives until the face returns.
    let (pool, events, _control) = pooltop::control::start_pool(config, &name, title)?;
    if dashboard {
        let opts = pooltop::ui::Options {
            title: title.to_string(),
            exit_when_done: args.exit_when_done,
            ..dashboard_options(&loaded)
        };
        let outcome = pooltop::ui::run_with(pool, events, tasks, opts)?;
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
        name,
        keep_alive: args.keep_alive,
        hung_after: Some(loaded.settings.hung_after),
    };
    let code = headless::run(pool, events, tasks, opts)?;
    Ok(code as u8)
}
