//! Settings end to end: the config file, the environment and the flags in
//! their order; every error message for a broken config file against its
//! golden file; `config --default`; the start-up conflict; completions and
//! the man page.
//!
//! Golden files: `tests/golden/config/NAME.toml` is checked with `pooltop
//! config --check NAME.toml` and its standard error compared with
//! `NAME.stderr`; `NAME.vars` are environment variables for `pooltop config`.
//! `UPDATE_GOLDEN=1 cargo test --test config` rewrites them (review the diff).

mod helpers;

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use helpers::pooltop_command;

const GOLDEN: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/golden/config");

/// pooltop in `dir`, with no config file and no POOLTOP_* variable (see
/// `pooltop_command`) nor NO_COLOR but those given.
fn pooltop(dir: &Path, args: &[&str], vars: &[(&str, &str)]) -> Output {
    let mut cmd = pooltop_command();
    cmd.args(args)
        .current_dir(dir)
        .stdin(Stdio::null())
        .env("XDG_CONFIG_HOME", dir.join("no-xdg"))
        .env("HOME", dir.join("no-home"))
        .env_remove("NO_COLOR");
    cmd.envs(vars.iter().copied());
    cmd.output().unwrap()
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// Compares `got` with the golden file, or rewrites it under UPDATE_GOLDEN.
fn golden(path: &Path, got: &str) -> Result<(), String> {
    if std::env::var_os("UPDATE_GOLDEN").is_some() {
        std::fs::write(path, got).unwrap();
        return Ok(());
    }
    let want = std::fs::read_to_string(path)
        .map_err(|e| format!("{}: {e} (UPDATE_GOLDEN=1 writes it)", path.display()))?;
    if want == got {
        Ok(())
    } else {
        Err(format!(
            "{}:\n--- want\n{want}--- got\n{got}",
            path.display()
        ))
    }
}

fn files(ext: &str) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(GOLDEN)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == ext))
        .collect();
    v.sort();
    v
}

#[test]
fn every_broken_config_error_matches_its_golden_file() {
    let dir = Path::new(GOLDEN);
    let mut failures = Vec::new();
    let tomls = files("toml");
    assert!(tomls.len() >= 15, "golden files missing");
    for toml in tomls {
        let name = toml.file_name().unwrap().to_str().unwrap();
        let out = pooltop(dir, &["config", "--check", name], &[]);
        assert_eq!(out.status.code(), Some(2), "{name}: {}", text(&out.stderr));
        assert!(out.stdout.is_empty(), "{name}");
        let err = text(&out.stderr);
        // Every line names the file and a line of it.
        for line in err.lines() {
            assert!(line.starts_with(&format!("pooltop: {name}:")), "{line}");
        }
        if let Err(e) = golden(&toml.with_extension("stderr"), &err) {
            failures.push(e);
        }
    }
    for vars in files("vars") {
        let spec = std::fs::read_to_string(&vars).unwrap();
        let pairs: Vec<(&str, &str)> = spec.lines().filter_map(|l| l.split_once('=')).collect();
        let out = pooltop(dir, &["config"], &pairs);
        assert_eq!(out.status.code(), Some(2), "{}", vars.display());
        if let Err(e) = golden(&vars.with_extension("stderr"), &text(&out.stderr)) {
            failures.push(e);
        }
    }
    // A file asked for by name must be there.
    let out = pooltop(dir, &["config", "--check", "missing.toml"], &[]);
    assert_eq!(out.status.code(), Some(2));
    if let Err(e) = golden(&dir.join("missing.stderr"), &text(&out.stderr)) {
        failures.push(e);
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// The summary's `workers` of a one-task headless run.
fn workers_of_a_run(dir: &Path, args: &[&str], vars: &[(&str, &str)]) -> u64 {
    let mut all = vec!["run", "--headless", "--json", "-", "tasks.txt"];
    all.extend_from_slice(args);
    let out = pooltop(dir, &all, vars);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let last = text(&out.stdout).lines().last().unwrap().to_string();
    let summary: serde_json::Value = serde_json::from_str(&last).unwrap();
    assert_eq!(summary["event"], "summary");
    summary["workers"].as_u64().unwrap()
}

#[test]
fn flags_beat_the_environment_which_beats_the_file_which_beats_the_defaults() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::write(d.join("tasks.txt"), "square 3\n").unwrap();
    // The XDG location.
    let xdg = d.join("xdg");
    std::fs::create_dir_all(xdg.join("pooltop")).unwrap();
    std::fs::write(
        xdg.join("pooltop/config.toml"),
        "[pool]\nworkers = 2\nretries = 3\n",
    )
    .unwrap();
    let xdg_s = xdg.to_str().unwrap();
    let with_xdg = [("XDG_CONFIG_HOME", xdg_s)];
    assert_eq!(workers_of_a_run(d, &[], &with_xdg), 2);
    let env = [("XDG_CONFIG_HOME", xdg_s), ("POOLTOP_WORKERS", "3")];
    assert_eq!(workers_of_a_run(d, &[], &env), 3);
    assert_eq!(workers_of_a_run(d, &["-j", "1"], &env), 1);

    // `pooltop config` says where each value comes from.
    let out = pooltop(d, &["config"], &env);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let shown = text(&out.stdout);
    let file = xdg.join("pooltop/config.toml");
    assert!(
        shown.starts_with(&format!("# config file: {}\n", file.display())),
        "{shown}"
    );
    let line = |key: &str| {
        shown
            .lines()
            .find(|l| l.starts_with(key))
            .unwrap_or_else(|| panic!("{key} missing: {shown}"))
            .to_string()
    };
    assert!(line("workers = 3").ends_with("# environment POOLTOP_WORKERS"));
    assert!(line("retries = 3").ends_with(&format!("# {}:3", file.display())));
    assert!(line("join_timeout = 5").ends_with("# default"));

    // HOME/.config when XDG_CONFIG_HOME is not set; POOLTOP_CONFIG and
    // --config point elsewhere, --config first.
    let home = d.join("home");
    std::fs::create_dir_all(home.join(".config/pooltop")).unwrap();
    std::fs::write(
        home.join(".config/pooltop/config.toml"),
        "[pool]\nretries = 4\n",
    )
    .unwrap();
    std::fs::write(d.join("other.toml"), "[pool]\nretries = 5\n").unwrap();
    std::fs::write(d.join("third.toml"), "[pool]\nretries = 6\n").unwrap();
    let home_s = home.to_str().unwrap();
    let retries = |args: &[&str], vars: &[(&str, &str)]| {
        let mut all = vec!["config"];
        all.extend_from_slice(args);
        let out = pooltop(d, &all, vars);
        assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
        text(&out.stdout)
            .lines()
            .find_map(|l| l.strip_prefix("retries = "))
            .unwrap()
            .split_whitespace()
            .next()
            .unwrap()
            .to_string()
    };
    let no_xdg = [("XDG_CONFIG_HOME", ""), ("HOME", home_s)];
    assert_eq!(retries(&[], &no_xdg), "4");
    let named = [("HOME", home_s), ("POOLTOP_CONFIG", "other.toml")];
    assert_eq!(retries(&[], &named), "5");
    assert_eq!(retries(&["--config", "third.toml"], &named), "6");
}

/// `-j`, `POOLTOP_WORKERS` and `workers` read one grammar: a share of the
/// CPUs, `auto` and a number each start the same pool from all three.
#[test]
fn workers_mean_the_same_from_the_flag_the_environment_and_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::write(d.join("tasks.txt"), "square 3\n").unwrap();
    let cpus = std::thread::available_parallelism().map_or(1, |n| n.get()) as u64;
    for (text, toml, want) in [
        ("50%", "\"50%\"", cpus.div_ceil(2)),
        ("auto", "\"auto\"", cpus),
        ("3", "3", 3),
    ] {
        std::fs::write(d.join("c.toml"), format!("[pool]\nworkers = {toml}\n")).unwrap();
        let flag = workers_of_a_run(d, &["-j", text], &[]);
        let env = workers_of_a_run(d, &[], &[("POOLTOP_WORKERS", text)]);
        let file = workers_of_a_run(d, &["--config", "c.toml"], &[]);
        assert_eq!((flag, env, file), (want, want, want), "{text}");
    }
    // A bad value is refused in the same words by each.
    std::fs::write(d.join("c.toml"), "[pool]\nworkers = \"150x\"\n").unwrap();
    let why = "expected a number of workers from 1 to 4096, or \"auto\"";
    for (args, vars, found) in [
        (&["-j", "150x"][..], &[][..], "found `150x`"),
        (&[], &[("POOLTOP_WORKERS", "150x")][..], "found `150x`"),
        (&["--config", "c.toml"], &[], "found the string \"150x\""),
    ] {
        let mut all = vec!["run", "--headless", "tasks.txt"];
        all.extend_from_slice(args);
        let out = pooltop(d, &all, vars);
        assert_eq!(out.status.code(), Some(2), "{args:?} {vars:?}");
        let err = text(&out.stderr);
        assert!(err.contains(&format!("{why}, {found}")), "{err}");
    }
}

#[test]
fn hung_after_from_the_file_reports_a_hung_worker_that_soon() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::write(d.join("tasks.txt"), "hang\n").unwrap();
    std::fs::write(d.join("c.toml"), "[pool]\nhung_after = 0.3\n").unwrap();
    let args = [
        "run",
        "--headless",
        "--json",
        "-",
        "--config",
        "c.toml",
        "-j",
        "1",
        "--task-timeout",
        "3",
        "tasks.txt",
    ];
    let out = pooltop(d, &args, &[]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    let events: Vec<serde_json::Value> = text(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let hung = events
        .iter()
        .find(|e| e["event"] == "worker_hung")
        .expect("a worker_hung event");
    // Reported after the file's 0.3 s, well before the default 10 s or half
    // the task timeout (1.5 s) would have.
    let idle = hung["idle_s"].as_f64().unwrap();
    assert!((0.3..1.4).contains(&idle), "{hung}");
    let timed_out = events.iter().any(|e| e["state"] == "timed_out");
    assert!(timed_out, "the hang still ends by its timeout");
}

#[test]
fn the_default_file_checks_clean_and_changes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let out = pooltop(d, &["config", "--default"], &[]);
    assert_eq!(out.status.code(), Some(0));
    let default = text(&out.stdout);
    assert!(default.starts_with("# pooltop's configuration file"));
    std::fs::write(d.join("default.toml"), &default).unwrap();
    let out = pooltop(d, &["config", "--check", "default.toml"], &[]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert_eq!(text(&out.stdout), "default.toml: ok\n");
    // With it, the settings in effect are the defaults' values.
    let with = pooltop(d, &["config", "--config", "default.toml"], &[]);
    let without = pooltop(d, &["config"], &[]);
    let values = |o: &Output| -> Vec<String> {
        text(&o.stdout)
            .lines()
            .filter(|l| l.contains(" = "))
            .map(|l| l.split(" #").next().unwrap().trim().to_string())
            .collect()
    };
    assert_eq!(values(&with), values(&without));
    assert!(values(&with).len() > 20);
}

#[test]
fn a_key_conflict_stops_the_run_with_one_line_and_status_2() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::write(d.join("c.toml"), "[keys]\nkill = \"t\"\n").unwrap();
    std::fs::write(d.join("tasks.txt"), "square 3\n").unwrap();
    let out = pooltop(
        d,
        &["run", "--headless", "--config", "c.toml", "tasks.txt"],
        &[],
    );
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(
        text(&out.stderr),
        "pooltop: c.toml:2: keys.kill: \"t\" is also bound to terminate \
         (by default; bind terminate to other keys)\n"
    );
    assert!(out.stdout.is_empty());
    // An environment mistake stops it too.
    let out = pooltop(
        d,
        &["run", "--headless", "tasks.txt"],
        &[("POOLTOP_RETRIES", "x")],
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("POOLTOP_RETRIES"));
}

#[test]
fn version_names_the_protocol() {
    let dir = tempfile::tempdir().unwrap();
    let out = pooltop(dir.path(), &["--version"], &[]);
    assert_eq!(
        text(&out.stdout),
        format!(
            "pooltop {} (protocol {})\n",
            env!("CARGO_PKG_VERSION"),
            pooltop::protocol::PROTOCOL_VERSION
        )
    );
}

/// `shell -n FILE` when the shell is installed: the script parses.
fn syntax_ok(shell: &str, file: &Path) -> Option<bool> {
    let out = Command::new(shell).arg("-n").arg(file).output().ok()?;
    if !out.status.success() {
        eprintln!("{shell} -n: {}", text(&out.stderr));
    }
    Some(out.status.success())
}

#[test]
fn completions_for_bash_zsh_and_fish() {
    let dir = tempfile::tempdir().unwrap();
    for shell in ["bash", "zsh", "fish"] {
        let out = pooltop(dir.path(), &["completions", shell], &[]);
        assert_eq!(out.status.code(), Some(0), "{shell}");
        let script = text(&out.stdout);
        for word in ["run", "submit", "config", "completions", "task-timeout"] {
            assert!(script.contains(word), "{shell} lacks {word}");
        }
        assert!(
            !script.contains("Internal: run as a pool worker"),
            "{shell}"
        );
        let file = dir.path().join(format!("pooltop.{shell}"));
        std::fs::write(&file, &script).unwrap();
        match syntax_ok(shell, &file) {
            Some(ok) => assert!(ok, "{shell} rejects its completion script"),
            None => assert_ne!(shell, "bash", "bash is needed to check completions"),
        }
    }
    let out = pooltop(dir.path(), &["completions", "tcsh"], &[]);
    assert_eq!(out.status.code(), Some(2));
}

/// Renders a man page with `man --warnings -l` (and `mandoc -T lint` when
/// there is one): no warning allowed.
fn lint_man(page: &Path) {
    match Command::new("man")
        .args(["--warnings", "-l"])
        .arg(page)
        .env("MANWIDTH", "80")
        .env_remove("MAN_KEEP_FORMATTING")
        .output()
    {
        Ok(out) => {
            assert!(
                out.status.success(),
                "{}: {}",
                page.display(),
                text(&out.stderr)
            );
            assert!(
                out.stderr.is_empty(),
                "{}: {}",
                page.display(),
                text(&out.stderr)
            );
            assert!(text(&out.stdout).contains("EXAMPLES"), "{}", page.display());
        }
        Err(_) => assert!(
            std::env::var_os("CI").is_none(),
            "man is needed in CI (.ci/run installs man-db)"
        ),
    }
    if let Ok(out) = Command::new("mandoc")
        .args(["-T", "lint", "-W", "warning"])
        .arg(page)
        .output()
    {
        assert!(
            out.status.success() && out.stdout.is_empty(),
            "{}: {}{}",
            page.display(),
            text(&out.stdout),
            text(&out.stderr)
        );
    }
}

#[test]
fn the_man_pages_render_without_warnings() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let out = pooltop(d, &["man"], &[]);
    assert_eq!(out.status.code(), Some(0));
    let page = d.join("pooltop.1");
    std::fs::write(&page, &out.stdout).unwrap();
    let roff = text(&out.stdout);
    assert!(roff.starts_with(".ie \\n(.g .ds Aq"), "{}", &roff[..80]);
    assert!(roff.contains("POOLTOP_WORKERS"));
    lint_man(&page);
    let pages = d.join("pages");
    let out = pooltop(d, &["man", "--dir", pages.to_str().unwrap()], &[]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let mut names: Vec<String> = std::fs::read_dir(&pages)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    assert!(names.contains(&"pooltop-run.1".to_string()), "{names:?}");
    assert!(names.contains(&"pooltop-config.1".to_string()), "{names:?}");
    for n in &names {
        lint_man(&pages.join(n));
    }
    // The main page on stdout is the one --dir writes.
    assert_eq!(
        std::fs::read(pages.join("pooltop.1")).unwrap(),
        std::fs::read(&page).unwrap()
    );
}
