use std::collections::HashMap;

use super::*;
use crate::ui::keymap::{self, Keymap};

fn check_keys(binds: &[KeyBind]) -> Vec<ConfigError> {
    Keymap::from_binds(binds).err().unwrap_or_default()
}

/// A fake environment.
fn env(vars: &[(&str, &str)]) -> impl Fn(&str) -> Option<OsString> {
    let map: HashMap<String, OsString> = vars
        .iter()
        .map(|(k, v)| (k.to_string(), OsString::from(v)))
        .collect();
    move |name| map.get(name).cloned()
}

fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, text).unwrap();
    p
}

fn errors(text: &str) -> Vec<String> {
    match parse(text, "c.toml", &check_keys) {
        Ok(_) => Vec::new(),
        Err(e) => e.iter().map(ToString::to_string).collect(),
    }
}

#[test]
fn precedence_is_default_then_file_then_environment_then_flags() {
    let dir = tempfile::tempdir().unwrap();
    let file = write(
        dir.path(),
        "c.toml",
        "[pool]\nworkers = 2\nretries = 1\ntask_timeout = 30\nout = \"from-file\"\n\
         [dashboard]\ntheme = \"mono\"\n",
    );
    let choice = FileChoice::Flag(file.clone());
    let e = env(&[("POOLTOP_WORKERS", "3"), ("POOLTOP_RETRIES", "4")]);
    let args = PoolArgs {
        workers: Some(5),
        task_timeout: Some(Duration::ZERO),
        ..PoolArgs::default()
    };
    let s = load(&choice, &e, flags_layer(&args), &check_keys).unwrap();
    // Flags win over everything; `--task-timeout 0` lifts the file's limit.
    assert_eq!(s.workers, Workers::Count(5));
    assert_eq!(*s.origin(Key::Workers), Origin::Flag("-j, --workers"));
    assert_eq!(s.task_timeout, None);
    // The environment wins over the file.
    assert_eq!(s.retries, 4);
    assert_eq!(*s.origin(Key::Retries), Origin::Env("POOLTOP_RETRIES"));
    // The file wins over the defaults.
    assert_eq!(s.out, PathBuf::from("from-file"));
    assert_eq!(
        *s.origin(Key::Out),
        Origin::File {
            path: file.display().to_string(),
            line: 5
        }
    );
    assert_eq!(s.theme, ThemeChoice::Mono);
    // The defaults stay where nobody spoke.
    assert_eq!(s.join_timeout, Duration::from_secs(5));
    assert_eq!(*s.origin(Key::JoinTimeout), Origin::Default);
    assert_eq!(s.file.as_deref(), Some(file.as_path()));
    let pool = s.pool_config();
    assert_eq!(pool.workers, 5);
    assert_eq!(pool.retries, 4);
    assert_eq!(pool.out_dir, PathBuf::from("from-file"));

    // Without flags, the environment's value stands; empty variables are unset.
    let e = env(&[("POOLTOP_WORKERS", "3"), ("POOLTOP_RETRIES", "")]);
    let s = load(&choice, &e, Layer::default(), &check_keys).unwrap();
    assert_eq!(s.workers, Workers::Count(3));
    assert_eq!(s.retries, 1);
    assert_eq!(s.task_timeout, Some(Duration::from_secs(30)));
}

#[test]
fn the_file_is_found_where_the_conventions_say() {
    let flag = Path::new("/etc/x.toml");
    let all = env(&[
        ("POOLTOP_CONFIG", "/from/env.toml"),
        ("XDG_CONFIG_HOME", "/xdg"),
        ("HOME", "/home/u"),
    ]);
    assert_eq!(locate(Some(flag), &all), FileChoice::Flag(flag.into()));
    assert_eq!(locate(None, &all), FileChoice::Env("/from/env.toml".into()));
    let xdg = env(&[("XDG_CONFIG_HOME", "/xdg"), ("HOME", "/home/u")]);
    assert_eq!(
        locate(None, &xdg),
        FileChoice::Xdg("/xdg/pooltop/config.toml".into())
    );
    // A relative XDG_CONFIG_HOME is invalid (XDG spec): ignored.
    let rel = env(&[("XDG_CONFIG_HOME", "rel"), ("HOME", "/home/u")]);
    assert_eq!(
        locate(None, &rel),
        FileChoice::Xdg("/home/u/.config/pooltop/config.toml".into())
    );
    assert_eq!(locate(None, &env(&[])), FileChoice::None);
}

#[test]
fn a_missing_file_is_fine_only_at_the_xdg_location() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("none.toml");
    let none = env(&[]);
    let s = load(
        &FileChoice::Xdg(missing.clone()),
        &none,
        Layer::default(),
        &check_keys,
    )
    .unwrap();
    assert_eq!(s, Settings::default());
    for choice in [FileChoice::Flag(missing.clone()), FileChoice::Env(missing)] {
        let e = load(&choice, &none, Layer::default(), &check_keys).unwrap_err();
        assert!(
            e[0].to_string().contains("cannot read this config file"),
            "{e:?}"
        );
    }
}

#[test]
fn the_default_file_parses_to_the_defaults() {
    let text = default_file(&keymap::config_docs(), keymap::CONFIG_HELP);
    let layer = parse(&text, "default.toml", &check_keys).unwrap();
    // Every setting and every action is written out.
    assert_eq!(layer.values.len(), SETTINGS.len());
    assert_eq!(layer.keys.len(), keymap::ACTIONS.len());
    let mut s = Settings::default();
    s.apply(layer);
    let keys = Keymap::from_binds(&s.keys).unwrap();
    assert_eq!(keys, Keymap::default());
    s.keys.clear();
    s.origins.clear();
    assert_eq!(s, Settings::default());
    // Every line is a comment, a table, or `key = value`, each commented.
    for s in SETTINGS {
        assert!(
            text.contains(&format!("# Environment: {}", s.env)),
            "{}",
            s.env
        );
    }
}

#[test]
fn values_written_by_show_read_back() {
    let dir = tempfile::tempdir().unwrap();
    let file = write(
        dir.path(),
        "c.toml",
        "[pool]\nworkers = 7\njoin_timeout = 0.25\nout = \"a \\\"b\\\"\"\n",
    );
    let s = load(
        &FileChoice::Flag(file),
        &env(&[]),
        Layer::default(),
        &check_keys,
    )
    .unwrap();
    let shown = s.show();
    assert!(shown.contains("workers = 7"), "{shown}");
    let back = parse(&shown, "shown.toml", &check_keys).unwrap();
    let mut t = Settings::default();
    t.apply(back);
    assert_eq!(t.workers, Workers::Count(7));
    assert_eq!(t.join_timeout, Duration::from_millis(250));
    assert_eq!(t.out, PathBuf::from("a \"b\""));
}

#[test]
fn every_mistake_names_the_line_and_the_key() {
    assert_eq!(
        errors("[pool]\nwokers = 4\n"),
        ["c.toml:2: pool.wokers: unknown key (did you mean workers?)"]
    );
    assert_eq!(
        errors("\n\nworkers = 4\n"),
        ["c.toml:3: workers: unknown key at the top level (it belongs in [pool]: pool.workers)"]
    );
    assert_eq!(
        errors("[pool]\njoin-timeout = 2\n"),
        ["c.toml:2: pool.join-timeout: unknown key (did you mean join_timeout?)"]
    );
    assert_eq!(
        errors("[dashboard]\nworkers = 4\n"),
        ["c.toml:2: dashboard.workers: unknown key (it belongs in [pool])"]
    );
    assert_eq!(
        errors("[pool]\nworkers = \"four\"\n"),
        [
            "c.toml:2: pool.workers: expected a number of workers from 1 to 4096, or \"auto\", \
             found the string \"four\""
        ]
    );
    assert_eq!(
        errors("[pools]\nworkers = 4\n"),
        ["c.toml:1: pools: unknown table (did you mean [pool]?)"]
    );
    assert_eq!(
        errors("[pool]\nworkers = 4\nworkers = 5\n"),
        ["c.toml:3: not valid TOML: duplicate key"]
    );
    // Several mistakes: all of them, by line, [keys] included.
    assert_eq!(
        errors("[keys]\nquit = \"k\"\n[pool]\nretries = -1\n"),
        [
            "c.toml:2: keys.quit: \"k\" is also bound to up (by default; bind up to other keys)",
            "c.toml:4: pool.retries: expected a whole number, 0 or more, found the integer -1",
        ]
    );
    assert!(errors("").is_empty());
    assert!(errors("[pool]\n[dashboard]\n[keys]\n").is_empty());
}

#[test]
fn environment_errors_name_the_variable() {
    let e = env(&[
        ("POOLTOP_JOIN_TIMEOUT", "soon"),
        ("POOLTOP_OUTPUT_CAP", "-5"),
    ]);
    let errs = load(&FileChoice::None, &e, Layer::default(), &check_keys).unwrap_err();
    let text: Vec<String> = errs.iter().map(ToString::to_string).collect();
    assert_eq!(
        text,
        [
            "environment variable POOLTOP_JOIN_TIMEOUT: expected a number of seconds above 0, \
             found `soon`",
            "environment variable POOLTOP_OUTPUT_CAP: expected a number of bytes, 0 or more, \
             found `-5`",
        ]
    );
}

#[test]
fn closest_suggests_only_near_misses() {
    let names = ["workers", "join_timeout", "task_timeout", "retries"];
    assert_eq!(closest("wokers", names), Some("workers"));
    assert_eq!(closest("retry", names), Some("retries"));
    assert_eq!(closest("Task-Timeout", names), Some("task_timeout"));
    assert_eq!(closest("colour", names), None);
}
