use std::collections::HashMap;

use super::schema::setting;
use super::value::cpus;
use super::*;
use crate::cli::{Cli, Cmd, PoolArgs};
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

/// `pooltop run ARGS` as clap reads it: the pool's options, or clap's error.
fn run_flags(args: &[&str]) -> Result<PoolArgs, String> {
    use clap::Parser;
    let argv = ["pooltop", "run"].iter().chain(args);
    match Cli::try_parse_from(argv)
        .map_err(|e| e.to_string())?
        .command
    {
        Some(Cmd::Run(run)) => Ok(run.pool),
        other => panic!("not a run: {other:?}"),
    }
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
    let args = run_flags(&["-j", "5", "--task-timeout", "0"]).unwrap();
    let s = load(&choice, &e, flags_layer(&args.settings), &check_keys).unwrap();
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

/// One setting's value written three ways, as a flag (`--name=TEXT`), as its
/// environment variable and in the config file (as a string, and bare when
/// TEXT is a TOML number): what each layer makes of it, or its error.
struct ThreeWays {
    flag: Option<Result<Value, String>>,
    env: Result<Value, String>,
    file_string: Result<Value, String>,
    file_bare: Option<(Result<Value, String>, String)>,
}

fn only_value(layer: Layer) -> Value {
    assert_eq!(layer.values.len(), 1, "{:?}", layer.values);
    layer.values[0].1.clone()
}

fn first_message(errors: Vec<ConfigError>) -> String {
    assert_eq!(errors.len(), 1, "{errors:?}");
    errors[0].message.clone()
}

/// How the file reports a bare TOML number it found, if `text` is one.
fn toml_number(text: &str) -> Option<String> {
    let line = format!("x = {text}");
    let doc = toml::de::DeTable::parse(&line).ok()?;
    let (_, v) = doc.get_ref().iter().next()?;
    match v.get_ref() {
        toml::de::DeValue::Integer(_) => Some(format!("the integer {}", text.replace('_', ""))),
        toml::de::DeValue::Float(_) => {
            let f: f64 = text.replace('_', "").parse().ok()?;
            Some(format!("the number {f}"))
        }
        _ => None,
    }
}

fn three_ways(key: Key, text: &str) -> ThreeWays {
    let s = setting(key);
    let flag = s.flag.as_ref().map(|f| {
        run_flags(&[&format!("--{}={text}", f.long())])
            .map(|args| only_value(flags_layer(&args.settings)))
    });
    let pairs = [(s.env, text)];
    let vars = env(&pairs);
    let env = env_layer(&vars).map(only_value).map_err(first_message);
    let in_file = |value: &str| {
        let text = format!("[{}]\n{} = {value}\n", s.section, s.name);
        parse(&text, "c.toml", &no_key_check)
            .map(only_value)
            .map_err(first_message)
    };
    // `+1` is the TOML integer 1, whose text is `1`: not the same words.
    let file_bare = toml_number(text)
        .filter(|_| !text.starts_with('+'))
        .map(|found| (in_file(text), found));
    ThreeWays {
        flag,
        env,
        file_string: in_file(&quote(text)),
        file_bare,
    }
}

/// Every case reads the same through the flag, the environment and the file
/// (as a string and, for a number, bare): one value, or one error whose words
/// differ only in what it says it found.
#[test]
fn the_flag_the_environment_and_the_file_read_each_value_alike() {
    let cpus = cpus();
    let count = |n: usize| Some(Value::Workers(Workers::Count(n)));
    let secs = |ms: u64| Some(Value::Secs(Duration::from_millis(ms)));
    let limit = |ms: u64| Some(Value::Limit(Some(Duration::from_millis(ms))));
    let cases: Vec<(Key, &str, Option<Value>)> = vec![
        (Key::Workers, "auto", Some(Value::Workers(Workers::Auto))),
        (Key::Workers, "3", count(3)),
        (Key::Workers, "4096", count(4096)),
        (Key::Workers, "50%", count(cpus.div_ceil(2))),
        (Key::Workers, "100%", count(cpus)),
        (Key::Workers, "150%", count((cpus * 3).div_ceil(2))),
        (Key::Workers, "+1", count(cpus + 1)),
        (Key::Workers, "0", None),
        (Key::Workers, "-4", None),
        (Key::Workers, "4097", None),
        (Key::Workers, "0%", None),
        (Key::Workers, "x", None),
        (Key::Workers, "2.0", None),
        (Key::JoinTimeout, "0.5", secs(500)),
        (Key::JoinTimeout, "2", secs(2000)),
        (Key::JoinTimeout, "0", None),
        (Key::JoinTimeout, "-1", None),
        (Key::JoinTimeout, "soon", None),
        (Key::JoinTimeout, "NaN", None),
        (Key::JoinTimeout, "inf", None),
        (Key::TaskTimeout, "0", Some(Value::Limit(None))),
        (Key::TaskTimeout, "none", Some(Value::Limit(None))),
        (Key::TaskTimeout, "2", limit(2000)),
        (Key::TaskTimeout, "-1", None),
        (Key::TaskTimeout, "-0.5", None),
        (Key::HungAfter, "0.3", secs(300)),
        (Key::HungAfter, "0", None),
        (Key::Retries, "2", Some(Value::Count(2))),
        (Key::Retries, "-1", None),
        (Key::Retries, "1.5", None),
        (Key::Chunksize, "auto", Some(Value::Chunk(ChunkSize::Auto))),
        (
            Key::Chunksize,
            "64",
            Some(Value::Chunk(ChunkSize::Fixed(64))),
        ),
        (Key::Chunksize, "0", None),
        (Key::Chunksize, "lots", None),
        (
            Key::Out,
            "some dir",
            Some(Value::Path(PathBuf::from("some dir"))),
        ),
        (Key::OutputCap, "65_536", Some(Value::Bytes(65536))),
        (Key::OutputCap, "4194304", Some(Value::Bytes(4194304))),
        (Key::OutputCap, "4194305", None),
        (Key::OutputCap, "-5", None),
        (Key::OutputCap, "1e3", None),
        (Key::SampleEvery, "0", Some(Value::Secs(Duration::ZERO))),
        (Key::SampleEvery, "1", secs(1000)),
        (Key::SampleEvery, "0.1", None),
        (Key::Memfree, "1G", Some(Value::Size(Some(1 << 30)))),
        (Key::Memfree, "500M", Some(Value::Size(Some(500 << 20)))),
        (Key::Memfree, "1.5k", Some(Value::Size(Some(1536)))),
        (Key::Memfree, "4096", Some(Value::Size(Some(4096)))),
        (Key::Memfree, "none", Some(Value::Size(None))),
        (Key::Memfree, "lots", None),
        (Key::Memfree, "5Q", None),
        (Key::TaskMemory, "100MB", Some(Value::Size(Some(100 << 20)))),
        (Key::Load, "0", Some(Value::Number(Some(0.0)))),
        (Key::Load, "3.5", Some(Value::Number(Some(3.5)))),
        (Key::Load, "-1", None),
        (
            Key::Delay,
            "0.2",
            Some(Value::Limit(Some(Duration::from_millis(200)))),
        ),
        (Key::Nice, "10", Some(Value::Count(10))),
        (Key::ThreadsPerTask, "2", Some(Value::Count(2))),
        (Key::Refresh, "0.25", secs(250)),
        (Key::Refresh, "100", None),
        (Key::Theme, "mono", Some(Value::Theme(ThemeChoice::Mono))),
        (Key::Theme, "dark", None),
    ];
    for (key, text, want) in cases {
        let name = setting(key).name;
        let got = three_ways(key, text);
        let Some(want) = want else {
            let Err(message) = &got.env else {
                panic!("{name} = {text}: the environment took it: {:?}", got.env);
            };
            // The same words everywhere but for what was found.
            let found = format!("found `{text}`");
            assert!(message.contains(&found), "{name} = {text}: {message}");
            let as_string = message.replacen(&found, &format!("found the string \"{text}\""), 1);
            assert_eq!(got.file_string, Err(as_string), "{name} = \"{text}\"");
            if let Some((bare, what)) = got.file_bare {
                let as_number = message.replacen(&found, &format!("found {what}"), 1);
                assert_eq!(bare, Err(as_number), "{name} = {text}");
            }
            if let Some(flag) = got.flag {
                let f = setting(key).flag.as_ref().unwrap();
                let clap = format!("for '--{} <{}>': {message}", f.long(), f.value);
                let error = flag.expect_err(text);
                assert!(error.contains(&clap), "--{name} {text}: {error}");
            }
            continue;
        };
        assert_eq!(got.env, Ok(want.clone()), "{} = {text}", setting(key).env);
        assert_eq!(got.file_string, Ok(want.clone()), "{name} = \"{text}\"");
        if let Some((bare, _)) = got.file_bare {
            assert_eq!(bare, Ok(want.clone()), "{name} = {text}");
        }
        if let Some(flag) = got.flag {
            assert_eq!(flag, Ok(want), "--{name} {text}");
        }
    }
}

/// `-j` and the other flags are made from the table, with its names.
#[test]
fn every_flag_of_the_table_is_an_option_of_run_and_demo() {
    use clap::CommandFactory;
    let cli = Cli::command();
    for sub in ["run", "demo"] {
        let cmd = cli.find_subcommand(sub).unwrap();
        for s in SETTINGS {
            let arg = cmd.get_arguments().find(|a| a.get_id() == s.name);
            match &s.flag {
                Some(f) => {
                    let arg = arg.unwrap_or_else(|| panic!("{sub} lacks {}", f.names));
                    assert_eq!(arg.get_long(), Some(f.long()));
                    assert_eq!(arg.get_short(), f.short());
                }
                None => assert!(arg.is_none(), "{sub} has {}", s.name),
            }
        }
    }
    let jobs = run_flags(&["--jobs", "2"]).unwrap();
    let p = run_flags(&["-P", "2"]).unwrap();
    for args in [jobs, p] {
        assert_eq!(
            flags_layer(&args.settings).values[0].1,
            Value::Workers(Workers::Count(2))
        );
    }
    assert!(
        flags_layer(&run_flags(&[]).unwrap().settings)
            .values
            .is_empty()
    );
}
