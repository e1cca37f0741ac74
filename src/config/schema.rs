//! Every setting, in one table: its section and name in the config file,
//! its environment variable, its flag, what it takes and its documentation.
//! The file's reader, the environment layer, the command line's flags
//! (flags.rs), the default file, `pooltop config` and the man page all read
//! this table, and each [`Kind`] has one grammar for all three (value.rs). A
//! new setting is one entry here plus its [`Key`] and its field in
//! [`Settings`](super::Settings).

use std::path::PathBuf;
use std::time::Duration;

use pooltop::engine::ChunkSize;

/// A setting, as code names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Key {
    Workers,
    JoinTimeout,
    TaskTimeout,
    HungAfter,
    Retries,
    Chunksize,
    Out,
    OutputCap,
    SampleEvery,
    Memfree,
    Load,
    Delay,
    Nice,
    TaskMemory,
    ThreadsPerTask,
    Python,
    MaxTasksPerWorker,
    Refresh,
    Theme,
    RecordEnabled,
    RecordKeep,
}

/// How many workers a pool starts with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Workers {
    /// One per CPU.
    Auto,
    /// Exactly this many.
    Count(usize),
}

/// The dashboard's colours.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ThemeChoice {
    /// `default`, or `mono` when `NO_COLOR` is set.
    Auto,
    /// 16 colours, readable on dark and light terminals.
    Default,
    /// Bold, no dimming, states on solid backgrounds.
    HighContrast,
    /// No colour: bold, dim and reverse video only.
    Mono,
}

impl ThemeChoice {
    /// Every theme by its name in the config file.
    pub const NAMES: &[(&str, ThemeChoice)] = &[
        ("auto", ThemeChoice::Auto),
        ("default", ThemeChoice::Default),
        ("high-contrast", ThemeChoice::HighContrast),
        ("mono", ThemeChoice::Mono),
    ];

    /// The name the config file uses.
    pub fn name(self) -> &'static str {
        Self::NAMES
            .iter()
            .find(|(_, t)| *t == self)
            .map_or("auto", |(n, _)| n)
    }
}

/// A setting's value.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Workers(Workers),
    Secs(Duration),
    /// Seconds, or no limit.
    Limit(Option<Duration>),
    Count(u32),
    Bytes(usize),
    Path(PathBuf),
    Theme(ThemeChoice),
    Chunk(ChunkSize),
    /// A size in bytes, or none (off).
    Size(Option<u64>),
    /// A number, or none (off).
    Number(Option<f64>),
    Bool(bool),
}

/// What a setting takes.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Kind {
    /// A number of workers (`N`, `N%` of the CPUs, `+N` more than the
    /// CPUs), or `"auto"`.
    Workers,
    /// Seconds, fractions allowed, within `min..=max` (min excluded when 0).
    Secs { min: f64, max: f64 },
    /// Seconds above 0, or 0 (or `none`) for no limit.
    Limit,
    /// Seconds between two events, from `min` up, or 0 for never.
    Every { min: f64 },
    /// A whole number, 0 or more.
    Count,
    /// A number of bytes, 0 to `max`.
    Bytes { max: usize },
    /// A path (a string).
    Path,
    /// A theme name.
    Theme,
    /// A number of tasks from 1 up, or `"auto"`.
    Chunk,
    /// A size: bytes, or with a suffix K, M, G, T (powers of 1024), as GNU
    /// parallel writes them; 0 or `none`: off.
    Size,
    /// A number, 0 or more, fractions allowed; `none`: off.
    Number,
    /// `true` or `false`.
    Bool,
}

/// One setting of the file.
#[derive(Debug)]
pub struct Setting {
    pub key: Key,
    /// Its table: `pool` or `dashboard`.
    pub section: &'static str,
    /// Its name in the table.
    pub name: &'static str,
    /// The environment variable that overrides the file.
    pub env: &'static str,
    /// The command-line flag that overrides both, if there is one (on the
    /// options of every pool: `run`, `demo`).
    pub flag: Option<Flag>,
    pub kind: Kind,
    /// What it means: the comment above it in the default file.
    pub doc: &'static str,
}

impl Setting {
    /// `section.name`.
    pub fn qualified(&self) -> String {
        format!("{}.{}", self.section, self.name)
    }
}

/// A setting's command-line flag.
#[derive(Debug)]
pub struct Flag {
    /// Its names as `--help` and `pooltop config` show them: `-j, --workers`
    /// or `--join-timeout`.
    pub names: &'static str,
    /// More long names, shown in `--help` (`jobs` for `--jobs`).
    pub aliases: &'static [&'static str],
    /// More short names, not shown (`P` for `-P`, as GNU parallel's).
    pub short_aliases: &'static [char],
    /// Its value's name in `--help`: `N`, `SECS`.
    pub value: &'static str,
    /// Its `--help` line, with the default in brackets.
    pub help: &'static str,
}

impl Flag {
    /// The long name, without its dashes: `workers`.
    pub fn long(&self) -> &'static str {
        let names = self.names;
        names.rsplit("--").next().unwrap_or(names)
    }

    /// The short name, if it has one: `j`.
    pub fn short(&self) -> Option<char> {
        let mut chars = self.names.strip_prefix('-')?.chars();
        chars.next().filter(|c| *c != '-')
    }
}

/// The tables of the file, in order (`keys` is the key bindings').
pub const SECTIONS: &[&str] = &["pool", "dashboard", "record", "keys"];

/// Every setting, in the order of the default file.
pub const SETTINGS: &[Setting] = &[
    Setting {
        key: Key::Workers,
        section: "pool",
        name: "workers",
        env: "POOLTOP_WORKERS",
        flag: Some(Flag {
            names: "-j, --workers",
            aliases: &["jobs"],
            short_aliases: &['P'],
            value: "N",
            help: "Number of worker processes: N, N% of the CPUs, +N more than the CPUs, \
                   or auto [default: number of CPUs]",
        }),
        kind: Kind::Workers,
        doc: "Number of worker processes: 1 to 4096, \"N%\" of the CPUs (rounded up),\n\
              \"+N\" more than the CPUs, or \"auto\" for one per CPU.",
    },
    Setting {
        key: Key::JoinTimeout,
        section: "pool",
        name: "join_timeout",
        env: "POOLTOP_JOIN_TIMEOUT",
        flag: Some(Flag {
            names: "--join-timeout",
            aliases: &[],
            short_aliases: &[],
            value: "SECS",
            help: "How long a worker asked to stop may take before SIGTERM, then SIGKILL \
                   [default: 5]",
        }),
        kind: Kind::Secs { min: 0.0, max: 1e9 },
        doc: "Seconds a worker asked to stop may take before SIGTERM, then SIGKILL.",
    },
    Setting {
        key: Key::TaskTimeout,
        section: "pool",
        name: "task_timeout",
        env: "POOLTOP_TASK_TIMEOUT",
        flag: Some(Flag {
            names: "--task-timeout",
            aliases: &[],
            short_aliases: &[],
            value: "SECS",
            help: "Kill (and replace) the worker of a task that runs longer than this; \
                   0: no limit [default: none]",
        }),
        kind: Kind::Limit,
        doc: "Seconds a task may run before its worker is killed and replaced\n\
              (the task ends timed_out, or is retried); 0: no limit.",
    },
    Setting {
        key: Key::HungAfter,
        section: "pool",
        name: "hung_after",
        env: "POOLTOP_HUNG_AFTER",
        flag: Some(Flag {
            names: "--hung-after",
            aliases: &[],
            short_aliases: &[],
            value: "SECS",
            help: "Report a busy worker as hung when it has finished nothing and used no \
                   CPU for this long [default: 10, or half the task timeout if shorter]",
        }),
        kind: Kind::Secs { min: 0.0, max: 1e9 },
        doc: "Seconds a busy worker may finish nothing and use no CPU before a\n\
              headless run reports it hung (at most half the task timeout).",
    },
    Setting {
        key: Key::Retries,
        section: "pool",
        name: "retries",
        env: "POOLTOP_RETRIES",
        flag: Some(Flag {
            names: "--retries",
            aliases: &[],
            short_aliases: &[],
            value: "N",
            help: "Task files: start a task again this many times when its worker dies \
                   under it or it times out. Templates: run a failing job up to N times in \
                   all, as GNU parallel does [default: 0]",
        }),
        kind: Kind::Count,
        doc: "Times a task is started again when its worker dies under it or it\n\
              times out.",
    },
    Setting {
        key: Key::Chunksize,
        section: "pool",
        name: "chunksize",
        env: "POOLTOP_CHUNKSIZE",
        flag: Some(Flag {
            names: "--chunksize",
            aliases: &[],
            short_aliases: &[],
            value: "N|auto",
            help: "Hand each worker N tasks at once (like Pool.map's chunksize), or \
                   `auto`: sized from the median run time. Every task is still reported \
                   on its own [default: 1]",
        }),
        kind: Kind::Chunk,
        doc: "Tasks handed to a worker at once (like Pool.map's chunksize), or\n\
              \"auto\": sized from the median run time. Each is still reported.",
    },
    Setting {
        key: Key::Out,
        section: "pool",
        name: "out",
        env: "POOLTOP_OUT",
        flag: Some(Flag {
            names: "--out",
            aliases: &[],
            short_aliases: &[],
            value: "DIR",
            help: "Folder for thumbnails [default: thumbs]",
        }),
        kind: Kind::Path,
        doc: "Folder for thumbnails (relative to the folder pooltop runs in).",
    },
    Setting {
        key: Key::OutputCap,
        section: "pool",
        name: "output_cap",
        env: "POOLTOP_OUTPUT_CAP",
        flag: Some(Flag {
            names: "--output-cap",
            aliases: &[],
            short_aliases: &[],
            value: "BYTES",
            help: "Bytes of stdout and of stderr kept per shell task (the last ones; at \
                   most 4 MiB) [default: 65536]. Templates keep all of a job's output: up \
                   to BYTES in memory, more in a temporary file [default: 1048576]",
        }),
        kind: Kind::Bytes {
            max: pooltop::engine::MAX_OUTPUT_CAP,
        },
        doc: "Bytes of stdout and of stderr kept per shell task (the last ones;\n\
              at most 4194304).",
    },
    Setting {
        key: Key::SampleEvery,
        section: "pool",
        name: "sample_every",
        env: "POOLTOP_SAMPLE_EVERY",
        flag: Some(Flag {
            names: "--sample-every",
            aliases: &[],
            short_aliases: &[],
            value: "SECS",
            help: "How often a headless run samples CPU and memory (the JSON stream's \
                   `sample` events); 0: never [default: 1]",
        }),
        kind: Kind::Every { min: 0.2 },
        doc: "Seconds between two samples of CPU and memory use in a headless run\n\
              and the JSON stream's sample events (0.2 up); 0: never.",
    },
    Setting {
        key: Key::Memfree,
        section: "pool",
        name: "memfree",
        env: "POOLTOP_MEMFREE",
        flag: Some(Flag {
            names: "--memfree",
            aliases: &[],
            short_aliases: &[],
            value: "SIZE",
            help: "Start no task while the memory available is below SIZE (1G, 500M); below \
                   half of it, kill the youngest task and requeue it, as GNU parallel does \
                   [default: none]",
        }),
        kind: Kind::Size,
        doc: "Start no task while the memory available is below this (bytes, or\n\
              1G, 500M); below half, the youngest task is killed and requeued.",
    },
    Setting {
        key: Key::Load,
        section: "pool",
        name: "load",
        env: "POOLTOP_LOAD",
        flag: Some(Flag {
            names: "--load",
            aliases: &[],
            short_aliases: &[],
            value: "MAX",
            help: "Start no task while the 1-minute load average is above MAX [default: none]",
        }),
        kind: Kind::Number,
        doc: "Start no task while the 1-minute load average is above this.",
    },
    Setting {
        key: Key::Delay,
        section: "pool",
        name: "delay",
        env: "POOLTOP_DELAY",
        flag: Some(Flag {
            names: "--delay",
            aliases: &[],
            short_aliases: &[],
            value: "SECS",
            help: "Wait at least SECS between two task starts; 0: no wait [default: 0]",
        }),
        kind: Kind::Limit,
        doc: "Seconds between two task starts, at least; 0: no wait.",
    },
    Setting {
        key: Key::Nice,
        section: "pool",
        name: "nice",
        env: "POOLTOP_NICE",
        flag: Some(Flag {
            names: "--nice",
            aliases: &[],
            short_aliases: &[],
            value: "N",
            help: "Run the workers and their tasks niced by N (0 to 19) [default: 0]",
        }),
        kind: Kind::Count,
        doc: "How much nicer the workers and their tasks run (0 to 19).",
    },
    Setting {
        key: Key::TaskMemory,
        section: "pool",
        name: "task_memory",
        env: "POOLTOP_TASK_MEMORY",
        flag: Some(Flag {
            names: "--task-memory",
            aliases: &[],
            short_aliases: &[],
            value: "SIZE",
            help: "Kill a task whose processes' resident memory passes SIZE (checked at each \
                   sample); it ends failed, \"over memory limit\" [default: none]",
        }),
        kind: Kind::Size,
        doc: "A task whose processes' resident memory passes this (bytes, or 1G,\n\
              500M) at a sample is killed and ends failed.",
    },
    Setting {
        key: Key::ThreadsPerTask,
        section: "pool",
        name: "threads_per_task",
        env: "POOLTOP_THREADS_PER_TASK",
        flag: Some(Flag {
            names: "--threads-per-task",
            aliases: &[],
            short_aliases: &[],
            value: "N",
            help: "OMP_NUM_THREADS, OPENBLAS_NUM_THREADS, MKL_NUM_THREADS and \
                   NUMEXPR_NUM_THREADS for each task, unless already set; 0: the worker's \
                   share of the CPUs [default: 0]",
        }),
        kind: Kind::Count,
        doc: "Threads for each task's numeric libraries (OMP_NUM_THREADS and the\n\
              like, unless set); 0: the CPUs divided by the workers.",
    },
    Setting {
        key: Key::Python,
        section: "pool",
        name: "python",
        env: "POOLTOP_PYTHON",
        flag: Some(Flag {
            names: "--python",
            aliases: &[],
            short_aliases: &[],
            value: "PATH",
            help: "The Python interpreter that runs `py` tasks, one per worker (a \
                   virtualenv's works) [default: python3 on PATH]",
        }),
        kind: Kind::Path,
        doc: "The Python interpreter that runs `py` tasks (one per worker, kept\n\
              between tasks); a name is looked up on PATH.",
    },
    Setting {
        key: Key::MaxTasksPerWorker,
        section: "pool",
        name: "max_tasks_per_worker",
        env: "POOLTOP_MAX_TASKS_PER_WORKER",
        flag: Some(Flag {
            names: "--max-tasks-per-worker",
            aliases: &[],
            short_aliases: &[],
            value: "N",
            help: "Replace a worker (and its Python interpreter) with a fresh one after \
                   it ran N tasks, like Pool's maxtasksperchild; 0: never [default: 0]",
        }),
        kind: Kind::Count,
        doc: "Tasks a worker runs before it is replaced by a fresh one (like\n\
              multiprocessing's maxtasksperchild); 0: never.",
    },
    Setting {
        key: Key::Refresh,
        section: "dashboard",
        name: "refresh",
        env: "POOLTOP_REFRESH",
        flag: None,
        kind: Kind::Secs {
            min: 0.2,
            max: 60.0,
        },
        doc: "Seconds between two samples of CPU and memory use (0.2 to 60).",
    },
    Setting {
        key: Key::Theme,
        section: "dashboard",
        name: "theme",
        env: "POOLTOP_THEME",
        flag: None,
        kind: Kind::Theme,
        doc: "Colours: \"default\" (16 colours, dark or light terminals),\n\
              \"high-contrast\", \"mono\" (no colour), or \"auto\": default, or mono\n\
              when NO_COLOR is set. A theme named here wins over NO_COLOR.",
    },
    Setting {
        key: Key::RecordEnabled,
        section: "record",
        name: "enabled",
        env: "POOLTOP_RECORD_ENABLED",
        flag: None,
        kind: Kind::Bool,
        doc: "Record every run under $XDG_STATE_HOME/pooltop/runs/ (for\n\
              `pooltop report`, `pooltop replay`); false: only with --record PATH.",
    },
    Setting {
        key: Key::RecordKeep,
        section: "record",
        name: "keep",
        env: "POOLTOP_RECORD_KEEP",
        flag: None,
        kind: Kind::Count,
        doc: "How many of the newest default recordings are kept; 0: all.",
    },
];

/// The table's entry for `key`.
#[cfg(test)]
pub fn setting(key: Key) -> &'static Setting {
    SETTINGS
        .iter()
        .find(|s| s.key == key)
        .unwrap_or(&SETTINGS[0])
}

impl Value {
    /// The value as the config file writes it.
    pub fn to_toml(&self) -> String {
        match self {
            Value::Workers(Workers::Auto) => "\"auto\"".into(),
            Value::Workers(Workers::Count(n)) => n.to_string(),
            Value::Secs(d) => secs(*d),
            Value::Limit(None) => "0".into(),
            Value::Limit(Some(d)) => secs(*d),
            Value::Count(n) => n.to_string(),
            Value::Bytes(n) => n.to_string(),
            Value::Path(p) => quote(&p.to_string_lossy()),
            Value::Theme(t) => quote(t.name()),
            Value::Chunk(ChunkSize::Auto) => "\"auto\"".into(),
            Value::Chunk(ChunkSize::Fixed(n)) => n.to_string(),
            Value::Size(None) | Value::Number(None) => "\"none\"".into(),
            Value::Size(Some(n)) => n.to_string(),
            Value::Number(Some(x)) => x.to_string(),
            Value::Bool(b) => b.to_string(),
        }
    }
}

/// Seconds as the file writes them: `5`, `0.5`.
fn secs(d: Duration) -> String {
    let s = d.as_secs_f64();
    format!("{s}")
}

/// A TOML basic string.
pub fn quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            c if c.is_control() => out.push_str(&format!("\\u{:04X}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

#[cfg(test)]
mod tests {
    use super::super::value::Raw;
    use super::*;

    #[test]
    fn every_key_has_one_entry_and_env_names_follow_the_key() {
        for s in SETTINGS {
            assert_eq!(SETTINGS.iter().filter(|t| t.key == s.key).count(), 1);
            assert_eq!(setting(s.key).name, s.name);
            // `record` names are too general alone: POOLTOP_RECORD_ENABLED.
            let name = match s.section {
                "record" => format!("{}_{}", s.section, s.name),
                _ => s.name.to_string(),
            };
            assert_eq!(s.env, format!("POOLTOP_{}", name.to_uppercase()));
            assert!(SECTIONS.contains(&s.section));
            if let Some(f) = &s.flag {
                assert_eq!(f.long(), s.name.replace('_', "-"), "{}", f.names);
            }
        }
        let workers = setting(Key::Workers).flag.as_ref().unwrap();
        assert_eq!((workers.short(), workers.long()), (Some('j'), "workers"));
        let out = setting(Key::Out).flag.as_ref().unwrap();
        assert_eq!((out.short(), out.long()), (None, "out"));
    }

    #[test]
    fn values_from_the_file_and_from_the_environment() {
        let w = Kind::Workers;
        assert_eq!(w.parse(Raw::Int(3)), Ok(Value::Workers(Workers::Count(3))));
        assert_eq!(
            w.parse(Raw::Text("3")),
            Ok(Value::Workers(Workers::Count(3)))
        );
        assert_eq!(w.parse(Raw::Str("auto")), Ok(Value::Workers(Workers::Auto)));
        assert!(w.parse(Raw::Int(0)).is_err());
        assert!(w.parse(Raw::Int(5000)).is_err());
        assert!(w.parse(Raw::Float(2.0, "2.0")).is_err());
        // A string in the file reads as the same text from a flag would.
        assert_eq!(
            w.parse(Raw::Str("3")),
            Ok(Value::Workers(Workers::Count(3)))
        );
        let l = Kind::Limit;
        assert_eq!(l.parse(Raw::Int(0)), Ok(Value::Limit(None)));
        assert_eq!(
            l.parse(Raw::Text("1.5")),
            Ok(Value::Limit(Some(Duration::from_millis(1500))))
        );
        assert!(l.parse(Raw::Float(-1.0, "-1.0")).is_err());
        let r = SETTINGS
            .iter()
            .find(|s| s.key == Key::Refresh)
            .unwrap()
            .kind;
        assert!(r.parse(Raw::Float(0.1, "0.1")).is_err());
        assert_eq!(
            r.parse(Raw::Float(0.2, "0.2")),
            Ok(Value::Secs(Duration::from_millis(200)))
        );
        assert_eq!(
            Kind::Count.parse(Raw::Bool(true)),
            Err("expected a whole number, 0 or more, found the boolean true".into())
        );
        assert_eq!(
            Kind::Theme.parse(Raw::Str("hight-contrast")),
            Err(
                "expected one of \"auto\", \"default\", \"high-contrast\", \"mono\", \
                 found the string \"hight-contrast\" (did you mean \"high-contrast\"?)"
                    .into()
            )
        );
    }

    /// What `to_toml` writes (the default file, `pooltop config`) reads
    /// back as the same value.
    #[test]
    fn values_written_back_read_the_same() {
        let samples = [
            (Key::Workers, Value::Workers(Workers::Auto)),
            (Key::Workers, Value::Workers(Workers::Count(7))),
            (Key::JoinTimeout, Value::Secs(Duration::from_millis(500))),
            (Key::JoinTimeout, Value::Secs(Duration::from_secs(5))),
            (Key::TaskTimeout, Value::Limit(None)),
            (
                Key::TaskTimeout,
                Value::Limit(Some(Duration::from_secs(30))),
            ),
            (Key::HungAfter, Value::Secs(Duration::from_secs(10))),
            (Key::Retries, Value::Count(3)),
            (Key::Chunksize, Value::Chunk(ChunkSize::Auto)),
            (Key::Chunksize, Value::Chunk(ChunkSize::Fixed(64))),
            (Key::Out, Value::Path(PathBuf::from("a \"b\"\\c"))),
            (Key::OutputCap, Value::Bytes(65536)),
            (Key::SampleEvery, Value::Secs(Duration::ZERO)),
            (Key::SampleEvery, Value::Secs(Duration::from_millis(1500))),
            (
                Key::Python,
                Value::Path(PathBuf::from("/opt/venv/bin/python")),
            ),
            (Key::MaxTasksPerWorker, Value::Count(100)),
            (Key::Refresh, Value::Secs(Duration::from_millis(250))),
            (Key::Theme, Value::Theme(ThemeChoice::HighContrast)),
            (Key::RecordEnabled, Value::Bool(false)),
            (Key::RecordKeep, Value::Count(5)),
        ];
        for (key, v) in samples {
            let s = setting(key);
            let text = format!("[{}]\n{} = {}\n", s.section, s.name, v.to_toml());
            let layer = super::super::parse(&text, "t.toml", &super::super::no_key_check)
                .unwrap_or_else(|e| panic!("{text}: {e:?}"));
            assert_eq!(layer.values[0].1, v, "{text}");
        }
        assert_eq!(Value::Secs(Duration::from_secs(5)).to_toml(), "5");
        assert_eq!(Value::Secs(Duration::from_millis(500)).to_toml(), "0.5");
        assert_eq!(quote("a \"b\"\\c"), r#""a \"b\"\\c""#);
    }
}
