//! The switchboard: parse the command line, pick a face. Owns nothing.

use std::fs::File;
use std::io::{self, BufWriter, IsTerminal, Read, Write};
use std::path::Path;
use std::process::ExitCode;

use clap::Parser;

use pooltop::batch::{self, halt::HaltPolicy, joblog::JobLog, session};
use pooltop::cli::{Cli, Cmd, ConfigArgs, PoolArgs, RunArgs, SubmitArgs};
use pooltop::config::{self, ConfigError, FileChoice, Settings};
use pooltop::headless::{self, JsonSink};
use pooltop::remote::{self, Verb};
use pooltop::ui::keymap::{self, Keymap};
use pooltop::{Task, demo, task};

// Why not the system allocator: see the "mimalloc" feature in Cargo.toml.
#[cfg(feature = "mimalloc")]
#[global_allocator]
static ALLOCATOR: pooltop::alloc::ByRole = pooltop::alloc::ByRole;

/// Exit status for bad input or options: nothing ran.
const EXIT_USAGE: u8 = 2;
/// The same with a command template, as GNU parallel has it (there, 1 to 101
/// count failed jobs).
const EXIT_TEMPLATE_USAGE: u8 = 255;
/// The shell for template commands that need one.
const DEFAULT_SHELL: &str = "sh";

/// Prints a command-line error as one line and exits with status 2 (help and
/// --version print as usual, status 0).
fn usage_error(e: clap::Error) -> ! {
    use clap::error::ErrorKind;
    if matches!(
        e.kind(),
        ErrorKind::DisplayHelp
            | ErrorKind::DisplayVersion
            | ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand
    ) {
        e.exit();
    }
    let text = e.render().to_string();
    let first = text.lines().next().unwrap_or("bad command line");
    let first = first.strip_prefix("error: ").unwrap_or(first);
    eprintln!("pooltop: {first} (see `pooltop --help`)");
    let code = if template_in_argv() {
        EXIT_TEMPLATE_USAGE
    } else {
        EXIT_USAGE
    };
    std::process::exit(code.into());
}

fn main() -> ExitCode {
    // A worker is recognised by its environment, before any argument parsing.
    pooltop::worker::run_if_worker();
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => usage_error(e),
    };
    let result = match cli.command {
        None => run_demo(PoolArgs::parse_default()),
        Some(Cmd::Demo(args)) => run_demo(args),
        Some(Cmd::Run(args)) => run_tasks(args),
        Some(Cmd::Ls { json }) => remote::ls(json).map_err(Failure::usage),
        Some(Cmd::Submit(args)) => submit(args),
        Some(Cmd::Status { pool, json }) => {
            remote::status(pool.pool.as_deref(), json).map_err(Failure::usage)
        }
        Some(Cmd::Wait { pool, tasks }) => {
            remote::wait(pool.pool.as_deref(), tasks).map_err(Failure::usage)
        }
        Some(Cmd::Pause(w)) => remote::workers(w, Verb::Pause).map_err(Failure::usage),
        Some(Cmd::Resume(w)) => remote::workers(w, Verb::Resume).map_err(Failure::usage),
        Some(Cmd::Terminate(w)) => remote::workers(w, Verb::Terminate).map_err(Failure::usage),
        Some(Cmd::Kill(w)) => remote::workers(w, Verb::Kill).map_err(Failure::usage),
        Some(Cmd::Scale { pool, workers }) => {
            remote::scale(pool.pool.as_deref(), workers).map_err(Failure::usage)
        }
        Some(Cmd::Stop { pool }) => remote::stop(pool.pool.as_deref()).map_err(Failure::usage),
        Some(Cmd::Attach { pool, config }) => attach(pool.pool.as_deref(), config.as_deref()),
        Some(Cmd::Config(args)) => config_cmd(args),
        Some(Cmd::Completions { shell }) => write_stdout(&pooltop::docs::completions(shell)),
        Some(Cmd::Man { dir }) => man(dir.as_deref()),
        Some(Cmd::Worker) => Err(Failure::usage(
            "`pooltop worker` is started by pooltop itself, not by hand",
        )),
    };
    match result {
        Ok(code) => ExitCode::from(code),
        Err(f) => {
            for line in &f.lines {
                pooltop::say!("pooltop: {line}");
            }
            ExitCode::from(f.code)
        }
    }
}

/// Why pooltop stops before running anything, and with which status.
struct Failure {
    lines: Vec<String>,
    code: u8,
}

impl Failure {
    fn usage(line: impl Into<String>) -> Failure {
        Failure {
            lines: vec![line.into()],
            code: EXIT_USAGE,
        }
    }
}

impl From<pooltop::Error> for Failure {
    fn from(e: pooltop::Error) -> Failure {
        Failure::usage(e.to_string())
    }
}

trait ParseDefault {
    fn parse_default() -> Self;
}

impl ParseDefault for PoolArgs {
    fn parse_default() -> PoolArgs {
        #[derive(Parser)]
        struct Wrapper {
            #[command(flatten)]
            pool: PoolArgs,
        }
        Wrapper::parse_from(["pooltop"]).pool
    }
}

/// Whether the command line is `pooltop run … -- CMD`, even when it does not
/// parse (its errors then exit as GNU parallel's do).
fn template_in_argv() -> bool {
    let args: Vec<String> = std::env::args().collect();
    let run = args.iter().position(|a| a == "run");
    let dashes = args.iter().position(|a| a == "--");
    matches!((run, dashes), (Some(r), Some(d)) if r < d)
}

/// What a pool runs with: the settings in effect (defaults < config file <
/// environment < flags) and the dashboard's keys. Any config error stops
/// pooltop before anything runs.
struct Loaded {
    settings: Settings,
    keys: Keymap,
}

fn load_settings(args: &PoolArgs) -> Result<Loaded, Failure> {
    let env = &config::process_env;
    let file = config::locate(args.config.as_deref(), env);
    let flags = config::flags_layer(args);
    let settings = config::load(&file, env, flags, &check_keys).map_err(config_failure)?;
    let keys = Keymap::from_binds(&settings.keys).map_err(config_failure)?;
    Ok(Loaded { settings, keys })
}

/// The config file's `[keys]`, checked by the dashboard's keymap.
fn check_keys(binds: &[config::KeyBind]) -> Vec<ConfigError> {
    Keymap::from_binds(binds).err().unwrap_or_default()
}

/// The dashboard's options from the settings: theme, keys, refresh.
fn dashboard_options(loaded: &Loaded) -> pooltop::ui::Options {
    let theme = pooltop::ui::theme::Theme::from_choice(
        loaded.settings.theme,
        pooltop::ui::theme::no_color(),
    );
    pooltop::ui::Options {
        sample_every: loaded.settings.refresh,
        theme,
        keys: loaded.keys.clone(),
        ..Default::default()
    }
}

fn config_failure(errors: Vec<ConfigError>) -> Failure {
    Failure {
        lines: errors.iter().map(ToString::to_string).collect(),
        code: EXIT_USAGE,
    }
}

fn json_sink(args: &PoolArgs) -> Result<Option<JsonSink>, Failure> {
    let Some(path) = &args.json else {
        return Ok(None);
    };
    if path == Path::new("-") {
        return Ok(Some(Box::new(io::stdout())));
    }
    let file = File::create(path).map_err(|e| {
        Failure::usage(format!(
            "cannot create JSON output `{}`: {e}",
            path.display()
        ))
    })?;
    Ok(Some(Box::new(BufWriter::new(file))))
}

fn run_tasks(args: RunArgs) -> Result<u8, Failure> {
    // `pooltop run --` alone is a template too: each input is a command.
    let words = args
        .command
        .clone()
        .or_else(|| template_in_argv().then(Vec::new));
    if let Some(words) = words {
        return run_batch(args, words).map_err(|mut f| {
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
    let lines = task::parse_lines(&text).map_err(|errors| {
        let mut lines: Vec<String> = errors.iter().map(|e| format!("{name}: {e}")).collect();
        lines.push(format!(
            "{name}: {} bad line(s); nothing was run",
            errors.len()
        ));
        Failure {
            lines,
            code: EXIT_USAGE,
        }
    })?;
    let tasks: Vec<Task> = lines
        .into_iter()
        .map(|l| Task {
            spec: l.spec,
            line: l.text.into(),
        })
        .collect();
    run_pool(&args.pool, loaded, tasks, &name, None)
}

/// `pooltop run [OPTIONS] -- CMD [ARGS…]`: CMD once per input.
fn run_batch(args: RunArgs, words: Vec<String>) -> Result<u8, Failure> {
    if let Some(file) = &args.taskfile {
        return Err(Failure::usage(format!(
            "`{}`: a task file and a command template (after --) do not go together",
            file.display()
        )));
    }
    if args.pool.keep_alive {
        return Err(Failure::usage(
            "--keep-alive does not go with a command template: the batch ends with its last job",
        ));
    }
    let b = &args.batch;
    if (b.resume || b.resume_failed) && b.joblog.is_none() {
        let opt = if b.resume {
            "--resume"
        } else {
            "--resume-failed"
        };
        return Err(Failure::usage(format!(
            "{opt} needs the --joblog FILE of the earlier run"
        )));
    }
    let old_log = match (&b.joblog, b.resume || b.resume_failed) {
        (Some(path), true) => match std::fs::read(path) {
            Ok(bytes) => Some(String::from_utf8_lossy(&bytes).into_owned()),
            Err(e) if e.kind() == io::ErrorKind::NotFound => None,
            Err(e) => {
                return Err(Failure::usage(format!(
                    "cannot read the job log `{}`: {e}",
                    path.display()
                )));
            }
        },
        _ => None,
    };
    let shell = std::env::var("PARALLEL_SHELL").unwrap_or_else(|_| DEFAULT_SHELL.to_string());
    let read = |name: &str| -> io::Result<Vec<u8>> {
        if name == "-" {
            if io::stdin().is_terminal() {
                pooltop::say!(
                    "pooltop: reading inputs from the terminal, one per line; end with Ctrl-D"
                );
            }
            let mut bytes = Vec::new();
            io::stdin().read_to_end(&mut bytes)?;
            Ok(bytes)
        } else {
            std::fs::read(name)
        }
    };
    let plan = batch::plan(&words, b, &shell, read, old_log.as_deref()).map_err(Failure::usage)?;
    if plan.jobs.is_empty() && !b.dry_run {
        // Nothing to run (no input, or all done by an earlier run): no pool.
        return Ok(0);
    }
    // Settings as for any pool (defaults < config file < environment <
    // flags); the output cap keeps the batch default unless one was set.
    let settings = load_settings(&args.pool)?.settings;
    let mut config = settings.pool_config();
    let workers = config.workers;
    let output_cap = (*settings.origin(config::Key::OutputCap) != config::Origin::Default)
        .then_some(settings.output_cap);
    let halt = b.halt.unwrap_or(HaltPolicy::NEVER);
    batch::configure(
        &mut config,
        settings.retries,
        b.timeout,
        halt,
        output_cap,
        plan.jobs.len(),
    );
    config.validate()?;
    if b.dry_run {
        let mut out = io::stdout().lock();
        for (i, job) in plan.jobs.iter().enumerate() {
            let slot = batch::dry_run_slot(i, workers);
            let line = plan.template.command_line(&job.args, job.seq, Some(slot));
            if writeln!(out, "{line}").is_err() {
                break;
            }
        }
        return Ok(0);
    }
    // Long or binary job output is spilled here, whole, by the workers, and
    // removed once printed (as parallel's files in $TMPDIR); the folder goes
    // when the run ends.
    let spill = {
        use std::os::unix::fs::PermissionsExt;
        tempfile::Builder::new()
            .prefix("pooltop-out-")
            .permissions(std::fs::Permissions::from_mode(0o700))
            .tempdir()
            .map_err(|e| Failure::usage(format!("cannot make a folder for job output: {e}")))?
    };
    config.spill_dir = Some(spill.path().to_path_buf());
    let joblog = match &b.joblog {
        Some(path) => Some(
            JobLog::open(path, b.resume || b.resume_failed).map_err(|e| {
                Failure::usage(format!(
                    "cannot write the job log `{}`: {e}",
                    path.display()
                ))
            })?,
        ),
        None => None,
    };
    let options = session::SessionOptions {
        keep_order: b.keep_order,
        halt,
    };
    // What an attached dashboard's header shows: the command template.
    let title = plan.template.shown().to_string();
    let session = session::Session::new(
        plan.template,
        plan.jobs,
        options,
        joblog,
        Box::new(io::stdout()),
        Box::new(io::stderr()),
    );
    let json = json_sink(&args.pool)?;
    // A batch opens a control socket as any pool does (`pooltop attach`,
    // `status`); its view is updated on this thread as events are read.
    let name = pool_name(&args.pool)?;
    let (pool, events, _control) = pooltop::control::start_pool(config, &name, &title)?;
    let code = headless::run_batch(pool, events, session, json, b.eta)?;
    drop(spill);
    // As a process exit status: -1 (a timed-out job that halted the run) is 255.
    Ok(code as u8)
}

fn run_demo(args: PoolArgs) -> Result<u8, Failure> {
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
    let json = if dashboard { None } else { json_sink(args)? };
    if dashboard {
        // The engine samples for the dashboard, at its refresh rate.
        config.sample_every = Some(loaded.settings.refresh);
    }
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
    };
    let code = headless::run(pool, events, tasks, opts)?;
    Ok(code as u8)
}

/// The control endpoint's name: `--name`, checked, or `pool-PID`.
fn pool_name(args: &PoolArgs) -> Result<String, Failure> {
    match &args.name {
        Some(n) => {
            pooltop::control::validate_name(n).map_err(Failure::usage)?;
            Ok(n.clone())
        }
        None => Ok(pooltop::control::default_name()),
    }
}

/// `pooltop config`: the settings in effect (`--default`: the default file;
/// `--check`: check one file).
fn config_cmd(args: ConfigArgs) -> Result<u8, Failure> {
    let env = &config::process_env;
    if args.default {
        let text = config::default_file(&keymap::config_docs(), keymap::CONFIG_HELP);
        return write_stdout(text.as_bytes());
    }
    let file = match &args.check {
        Some(Some(path)) => FileChoice::Flag(path.clone()),
        _ => config::locate(args.config.as_deref(), env),
    };
    if args.check.is_some() {
        match config::read_file(&file, &check_keys).map_err(config_failure)? {
            Some(_) => {}
            None => {
                let place = file
                    .path()
                    .map_or("no config location".into(), |p| p.display().to_string());
                pooltop::say!("pooltop: no config file ({place}); the built-in defaults apply");
                return Ok(0);
            }
        };
        let path = file
            .path()
            .map(|p| p.display().to_string())
            .unwrap_or_default();
        return write_stdout(format!("{path}: ok\n").as_bytes());
    }
    let settings =
        config::load(&file, env, config::Layer::default(), &check_keys).map_err(config_failure)?;
    let keys = Keymap::from_binds(&settings.keys).map_err(config_failure)?;
    let mut text = match (&settings.file, file.path()) {
        (Some(p), _) => format!("# config file: {}\n", p.display()),
        (None, Some(p)) => format!("# config file: none ({} does not exist)\n", p.display()),
        (None, None) => "# config file: none\n".to_string(),
    };
    text.push_str(&settings.show());
    text.push('\n');
    text.push_str(&keys.show(&settings.keys));
    write_stdout(text.as_bytes())
}

/// `pooltop man`: the page on stdout, or every page into `dir`.
fn man(dir: Option<&Path>) -> Result<u8, Failure> {
    let Some(dir) = dir else {
        let page = pooltop::docs::man_page()
            .map_err(|e| Failure::usage(format!("cannot render the man page: {e}")))?;
        return write_stdout(&page);
    };
    let write = || -> io::Result<()> {
        std::fs::create_dir_all(dir)?;
        for (name, page) in pooltop::docs::man_pages()? {
            std::fs::write(dir.join(name), page)?;
        }
        Ok(())
    };
    write().map_err(|e| {
        Failure::usage(format!(
            "cannot write the man pages to {}: {e}",
            dir.display()
        ))
    })?;
    Ok(0)
}

/// Writes `bytes` to stdout; a reader that went away (`| head`) is fine.
fn write_stdout(bytes: &[u8]) -> Result<u8, Failure> {
    use std::io::Write as _;
    let mut out = io::stdout().lock();
    match out.write_all(bytes).and_then(|()| out.flush()) {
        Ok(()) => Ok(0),
        Err(e) if e.kind() == io::ErrorKind::BrokenPipe => Ok(0),
        Err(e) => Err(Failure::usage(format!(
            "cannot write to standard output: {e}"
        ))),
    }
}

fn attach(pool: Option<&str>, config: Option<&Path>) -> Result<u8, Failure> {
    if !io::stdout().is_terminal() {
        return Err(Failure::usage(
            "attach needs a terminal; use `pooltop status` from scripts",
        ));
    }
    // The dashboard's settings (theme, keys, refresh) from the config file
    // and the environment; the pool's own are the other process's.
    let args = PoolArgs {
        config: config.map(Path::to_path_buf),
        ..PoolArgs::default()
    };
    let loaded = load_settings(&args)?;
    let (handle, events, name, title) =
        pooltop::control::client::attach(pool).map_err(Failure::usage)?;
    let opts = pooltop::ui::Options {
        title: format!("{name}: {title}"),
        ..dashboard_options(&loaded)
    };
    let outcome = pooltop::ui::run_with(handle, events.into(), Vec::new(), opts)?;
    if outcome.detached {
        pooltop::say!("pooltop: detached from pool `{name}`; it is still running");
        return Ok(0);
    }
    pooltop::say!("{}", outcome.summary_text());
    Ok(outcome.exit_code() as u8)
}

fn submit(args: SubmitArgs) -> Result<u8, Failure> {
    let lines = if !args.line.is_empty() {
        vec![remote::line_from_words(&args.line)]
    } else {
        let (name, text) = read_taskfile(args.taskfile.as_deref())?;
        let lines: Vec<String> = text.lines().map(String::from).collect();
        // Checked here too, so errors name the file as `run` does.
        if let Err(errors) = task::parse_lines(&text) {
            let mut out: Vec<String> = errors.iter().map(|e| format!("{name}: {e}")).collect();
            out.push(format!(
                "{name}: {} bad line(s); nothing was submitted",
                errors.len()
            ));
            return Err(Failure {
                lines: out,
                code: EXIT_USAGE,
            });
        }
        lines
    };
    remote::submit(args.pool.pool.as_deref(), lines).map_err(Failure::usage)
}

/// Reads the task file (or standard input) whole: every line is checked
/// before anything runs.
fn read_taskfile(path: Option<&Path>) -> Result<(String, String), Failure> {
    let (name, bytes) = match path {
        None => read_stdin()?,
        Some(p) if p == Path::new("-") => read_stdin()?,
        Some(p) => {
            let name = p.display().to_string();
            let bytes = std::fs::read(p)
                .map_err(|e| Failure::usage(format!("cannot read task file `{name}`: {e}")))?;
            (name, bytes)
        }
    };
    match String::from_utf8(bytes) {
        Ok(text) => Ok((name, text)),
        Err(e) => {
            let valid = &e.as_bytes()[..e.utf8_error().valid_up_to()];
            let line = valid.iter().filter(|&&b| b == b'\n').count() + 1;
            Err(Failure::usage(format!(
                "{name}: line {line}: not valid UTF-8; task files must be UTF-8 text"
            )))
        }
    }
}

fn read_stdin() -> Result<(String, Vec<u8>), Failure> {
    let mut bytes = Vec::new();
    io::stdin()
        .read_to_end(&mut bytes)
        .map_err(|e| Failure::usage(format!("cannot read standard input: {e}")))?;
    Ok(("<stdin>".to_string(), bytes))
}
