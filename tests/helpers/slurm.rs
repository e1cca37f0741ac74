//! A throwaway single-node Slurm for the tests: `munged`, `slurmctld` and
//! `slurmd` started by hand in a private temp dir, on free loopback ports,
//! with a generated `slurm.conf` (`../shared/SCALE-OUT.md` §2.1).
//!
//! One cluster per test binary, shared by its tests ([`shared`]): it comes up
//! in about a second, and Slurm queues what does not fit, so tests running in
//! parallel threads share it safely. Everything the cluster starts carries
//! its temp dir in the environment (`SLURM_CONF=<dir>/slurm.conf`: daemons,
//! `slurmstepd`s and the tasks of every step, which inherit it), so teardown
//! kills exactly the processes of this cluster, whoever started them. It
//! runs when a private [`Slurm`] is dropped, when the test process exits (an
//! `atexit` hook for the shared one), and, should the test process be killed
//! outright, from a watchdog that waits for it to vanish.
//!
//! A test that finds Slurm not installed is skipped with one line saying so
//! (`.ci/run` installs it); anything else that stops the cluster from coming
//! up fails the test with the daemons' logs.
#![allow(dead_code)]

use std::io::Write;
use std::net::TcpListener;
use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

use crate::helpers::pids_with_marker;

/// How long the daemons get to come up (about 1 s on an idle machine).
const START_WITHIN: Duration = Duration::from_secs(30);

/// CPUs the node claims, whatever the machine has (`config_overrides`): on a
/// 2-core runner a real count would let only two one-CPU jobs run at once,
/// and tests running in parallel would queue behind each other.
pub const NODE_CPUS: u32 = 8;

/// The partition every job goes to unless it asks for another.
pub const PARTITION: &str = "debug";

/// A partition that starts DOWN: a job sent there stays PENDING until a test
/// calls [`Slurm::open_gate`], which makes Slurm's queueing deterministic.
pub const GATE: &str = "gate";

/// A partition that stays DOWN: what is sent there pends until cancelled.
pub const HELD: &str = "held";

/// The programs the harness needs, found on PATH or in the sbin folders.
const PROGRAMS: [&str; 9] = [
    "munged",
    "slurmctld",
    "slurmd",
    "srun",
    "salloc",
    "sinfo",
    "squeue",
    "scancel",
    "scontrol",
];

/// One running single-node cluster.
pub struct Slurm {
    /// The private folder holding the config, keys, state, logs and sockets;
    /// its path is the marker that names this cluster's processes.
    dir: PathBuf,
    conf: PathBuf,
    node: String,
    daemons: Mutex<Vec<Child>>,
    watchdog: Mutex<Option<Child>>,
}

/// Why no cluster could be started.
pub enum Unavailable {
    /// Slurm or munge is not installed: the test is skipped.
    NotInstalled(String),
}

static SHARED: OnceLock<Result<Slurm, String>> = OnceLock::new();

/// The test binary's cluster, started by the first test that asks; `None`
/// (with the reason printed) when Slurm is not installed.
pub fn shared() -> Option<&'static Slurm> {
    let cluster = SHARED.get_or_init(|| match Slurm::start() {
        Ok(cluster) => {
            // SAFETY: `stop_shared` is a plain `extern "C" fn` with no
            // arguments, as atexit(3) requires; it only reads the OnceLock,
            // which lives as long as the process.
            let registered = unsafe { libc::atexit(stop_shared) };
            assert_eq!(registered, 0, "atexit refused the Slurm teardown");
            Ok(cluster)
        }
        Err(Unavailable::NotInstalled(why)) => Err(why),
    });
    match cluster {
        Ok(cluster) => Some(cluster),
        Err(why) => {
            println!("skipped: {why}");
            None
        }
    }
}

extern "C" fn stop_shared() {
    if let Some(Ok(cluster)) = SHARED.get() {
        cluster.stop();
    }
}

/// Where `name` is installed: PATH first, then the sbin folders, which a
/// non-login shell's PATH may lack.
pub fn find_program(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain(["/usr/sbin", "/sbin", "/usr/local/sbin"].map(PathBuf::from))
        .map(|dir| dir.join(name))
        .find(|file| file.is_file())
}

/// Takes a free loopback port (the kernel's choice; freed again before the
/// daemon binds it, a window no other test of ours races for).
fn free_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").expect("a free loopback port");
    listener.local_addr().expect("its address").port()
}

impl Slurm {
    /// Starts a private cluster, torn down when it is dropped.
    pub fn start() -> Result<Slurm, Unavailable> {
        let missing: Vec<&str> = PROGRAMS
            .into_iter()
            .filter(|name| find_program(name).is_none())
            .collect();
        if !missing.is_empty() {
            return Err(Unavailable::NotInstalled(format!(
                "Slurm is not installed (no {}); `apt-get install slurmctld slurmd \
                 slurm-client munge` adds it (.ci/run does)",
                missing.join(", ")
            )));
        }
        let dir = tempfile::Builder::new()
            .prefix("pooltop-slurm-")
            .tempdir()
            .expect("a temp dir for Slurm")
            .keep();
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o700))
            .expect("a private Slurm dir");
        let (node, memory) = node_line();
        let cluster = Slurm {
            conf: dir.join("slurm.conf"),
            dir,
            node,
            daemons: Mutex::new(Vec::new()),
            watchdog: Mutex::new(None),
        };
        // From here on a failure panics, and dropping `cluster` cleans up.
        cluster.watch_this_process();
        cluster.write_files(&memory);
        cluster.spawn_daemon("munged", &cluster.munged_args());
        cluster.wait_until("munged listens", || {
            std::os::unix::net::UnixStream::connect(cluster.munge_socket()).is_ok()
        });
        cluster.spawn_daemon("slurmctld", &["-D"]);
        cluster.spawn_daemon("slurmd", &["-D"]);
        cluster.wait_until("the node is idle", || {
            let states = cluster.output("sinfo", &["-h", "-N", "-p", PARTITION, "-o", "%T"]);
            states.status.success() && String::from_utf8_lossy(&states.stdout).trim() == "idle"
        });
        Ok(cluster)
    }

    /// The private folder (its path marks every process of this cluster).
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// `slurm.conf`, for `SLURM_CONF`.
    pub fn conf(&self) -> &Path {
        &self.conf
    }

    /// The one node's name (the machine's short host name).
    pub fn node(&self) -> &str {
        &self.node
    }

    /// What a command needs in its environment to talk to this cluster.
    pub fn env(&self) -> [(&'static str, &Path); 1] {
        [("SLURM_CONF", self.conf.as_path())]
    }

    /// Clears `cmd` of any Slurm setting the tests themselves run under (a
    /// developer inside an allocation) and points it at this cluster.
    pub fn configure<'a>(&self, cmd: &'a mut Command) -> &'a mut Command {
        for (name, _) in std::env::vars_os() {
            if name.to_string_lossy().starts_with("SLURM_") {
                cmd.env_remove(name);
            }
        }
        cmd.envs(self.env())
    }

    /// `program` (a Slurm client such as `srun`) set up for this cluster.
    pub fn command(&self, program: &str) -> Command {
        let path = find_program(program).unwrap_or_else(|| PathBuf::from(program));
        let mut cmd = Command::new(path);
        self.configure(&mut cmd);
        cmd
    }

    /// Runs a Slurm client to its end.
    pub fn output(&self, program: &str, args: &[&str]) -> Output {
        self.command(program)
            .args(args)
            .stdin(Stdio::null())
            .output()
            .unwrap_or_else(|e| panic!("cannot run {program}: {e}"))
    }

    /// Runs a Slurm client that must succeed, and returns its stdout.
    pub fn run(&self, program: &str, args: &[&str]) -> String {
        let out = self.output(program, args);
        assert!(
            out.status.success(),
            "{program} {args:?} failed ({}): {}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// The steps running now, as `JOB.STEP NAME NODE` lines (the
    /// allocations' own `extern`/`batch` steps left out).
    pub fn steps(&self) -> Vec<String> {
        self.run("squeue", &["-h", "-s", "-o", "%i %j %N"])
            .lines()
            .filter(|line| !line.contains(".extern ") && !line.contains(".batch "))
            .map(str::to_owned)
            .collect()
    }

    /// The jobs Slurm knows now, as `JOB NAME STATE` lines.
    pub fn jobs(&self) -> Vec<String> {
        self.run("squeue", &["-h", "-o", "%i %j %T"])
            .lines()
            .map(str::to_owned)
            .collect()
    }

    /// Makes an allocation of `cpus` CPUs with no shell (`salloc
    /// --no-shell`), as a batch script would have; cancelled when dropped.
    pub fn allocation(&self, cpus: u32) -> Allocation<'_> {
        let out = self.output(
            "salloc",
            &["--no-shell", "-J", "hold", &format!("-n{cpus}")],
        );
        let said = String::from_utf8_lossy(&out.stderr);
        let job = said
            .lines()
            .find_map(|line| line.strip_prefix("salloc: Granted job allocation "))
            .unwrap_or_else(|| panic!("salloc granted nothing ({}): {said}", out.status))
            .trim()
            .to_owned();
        Allocation { cluster: self, job }
    }

    /// Opens the [`GATE`] partition: what waits there starts.
    pub fn open_gate(&self) {
        let partition = format!("PartitionName={GATE}");
        self.run("scontrol", &["update", &partition, "State=UP"]);
    }

    /// Polls `cond` until it holds; panics after [`START_WITHIN`] with the
    /// daemons' logs, or at once if a daemon has died.
    pub fn wait_until(&self, what: &str, mut cond: impl FnMut() -> bool) {
        let deadline = Instant::now() + START_WITHIN;
        while !cond() {
            if let Some(dead) = self.dead_daemon() {
                panic!("Slurm: {dead} while waiting until {what}\n{}", self.logs());
            }
            if Instant::now() > deadline {
                panic!("Slurm: timed out waiting until {what}\n{}", self.logs());
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    fn dead_daemon(&self) -> Option<String> {
        let mut daemons = self.daemons.lock().unwrap_or_else(|e| e.into_inner());
        daemons.iter_mut().find_map(|child| {
            let status = child.try_wait().ok()??;
            Some(format!("daemon {} exited ({status})", child.id()))
        })
    }

    /// The last lines of every daemon's log, for a failure message.
    pub fn logs(&self) -> String {
        let mut all = String::new();
        for name in ["munged", "slurmctld", "slurmd"] {
            for file in [format!("{name}.out"), format!("{name}.log")] {
                let Ok(text) = std::fs::read_to_string(self.dir.join(&file)) else {
                    continue;
                };
                let lines: Vec<&str> = text.lines().collect();
                let tail = &lines[lines.len().saturating_sub(15)..];
                all += &format!("--- {file}\n{}\n", tail.join("\n"));
            }
        }
        all
    }

    fn munge_socket(&self) -> PathBuf {
        self.dir.join("munge.sock")
    }

    fn munged_args(&self) -> Vec<String> {
        let file = |name: &str| self.dir.join(name).display().to_string();
        vec![
            "--foreground".into(),
            // munged refuses root without it; CI runs as root.
            "--force".into(),
            format!("--socket={}", file("munge.sock")),
            format!("--key-file={}", file("munge.key")),
            format!("--pid-file={}", file("munged.pid")),
            format!("--log-file={}", file("munged.log")),
            format!("--seed-file={}", file("munged.seed")),
        ]
    }

    fn write_files(&self, memory: &str) {
        for sub in ["state", "spool"] {
            std::fs::create_dir(self.dir.join(sub)).expect("a Slurm state folder");
        }
        let key = self.dir.join("munge.key");
        let mut bytes = [0u8; 128];
        getrandom::fill(&mut bytes).expect("random bytes for the munge key");
        std::fs::write(&key, bytes).expect("the munge key");
        std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o400))
            .expect("a private munge key");
        let mut conf = std::fs::File::create(&self.conf).expect("slurm.conf");
        conf.write_all(self.config_text(memory).as_bytes())
            .expect("slurm.conf written");
    }

    /// The node line keeps `slurmd -C`'s name and memory; its CPUs are
    /// [`NODE_CPUS`].
    fn config_text(&self, memory: &str) -> String {
        let dir = self.dir.display();
        let node = &self.node;
        format!(
            "# A throwaway single-node cluster for pooltop's tests.\n\
             ClusterName=pooltoptest\n\
             SlurmctldHost={node}(127.0.0.1)\n\
             SlurmctldPort={ctld_port}\n\
             SlurmdPort={slurmd_port}\n\
             AuthType=auth/munge\n\
             CredType=cred/munge\n\
             AuthInfo=socket={dir}/munge.sock\n\
             SlurmUser=root\n\
             SlurmdUser=root\n\
             StateSaveLocation={dir}/state\n\
             SlurmdSpoolDir={dir}/spool\n\
             SlurmctldPidFile={dir}/slurmctld.pid\n\
             SlurmdPidFile={dir}/slurmd.pid\n\
             SlurmctldLogFile={dir}/slurmctld.log\n\
             SlurmdLogFile={dir}/slurmd.log\n\
             ProctrackType=proctrack/linuxproc\n\
             TaskPlugin=task/none\n\
             JobAcctGatherType=jobacct_gather/none\n\
             MpiDefault=none\n\
             SelectType=select/cons_tres\n\
             SelectTypeParameters=CR_Core\n\
             SlurmdParameters=config_overrides\n\
             ReturnToService=2\n\
             KillWait=2\n\
             MinJobAge=2\n\
             NodeName={node} CPUs={NODE_CPUS} Boards=1 SocketsPerBoard=1 \
             CoresPerSocket={NODE_CPUS} ThreadsPerCore=1 RealMemory={memory} \
             NodeAddr=127.0.0.1 State=UNKNOWN\n\
             PartitionName={PARTITION} Nodes=ALL Default=YES MaxTime=INFINITE State=UP\n\
             PartitionName={GATE} Nodes=ALL MaxTime=INFINITE State=DOWN\n\
             PartitionName={HELD} Nodes=ALL MaxTime=INFINITE State=DOWN\n",
            ctld_port = free_port(),
            slurmd_port = free_port(),
        )
    }

    fn spawn_daemon<S: AsRef<std::ffi::OsStr>>(&self, name: &str, args: &[S]) {
        let log = |suffix: &str| {
            std::fs::File::create(self.dir.join(format!("{name}.{suffix}")))
                .expect("a daemon log file")
        };
        let child = self
            .command(name)
            .args(args)
            .stdin(Stdio::null())
            .stdout(log("out"))
            .stderr(log("err"))
            // Out of the test's process group: a Ctrl-C of `cargo test` must
            // not kill a daemon before the teardown has cancelled the steps.
            .process_group(0)
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {name}: {e}"));
        self.daemons
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(child);
    }

    /// Starts the watchdog: a shell that waits for this test process to end
    /// and then SIGKILLs every process that has the cluster's folder in its
    /// environment, and removes the folder. The normal teardown does the
    /// same sooner; this covers a test process killed outright.
    fn watch_this_process(&self) {
        let script = r#"while kill -0 "$1" 2>/dev/null; do sleep 0.5; done
for p in /proc/[0-9]*; do
  grep -qsF "$2" "$p/environ" && kill -9 "${p#/proc/}" 2>/dev/null
done
rm -rf "$2""#;
        let child = Command::new("sh")
            .args(["-c", script, "pooltop-slurm-watchdog"])
            .arg(std::process::id().to_string())
            .arg(&self.dir)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .process_group(0)
            .spawn()
            .expect("the Slurm watchdog");
        *self.watchdog.lock().unwrap_or_else(|e| e.into_inner()) = Some(child);
    }

    /// Tears the cluster down: every process marked with its folder
    /// (daemons, step daemons, tasks, clients) SIGKILLed until none is
    /// left, the daemons reaped, the folder removed. Idempotent.
    pub fn stop(&self) {
        let marker = self.dir.display().to_string();
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let left = pids_with_marker(&marker);
            if left.is_empty() || Instant::now() > deadline {
                break;
            }
            for pid in left {
                // SAFETY: kill(2) with a pid read from /proc just now; at
                // worst the process is already gone (ESRCH).
                unsafe { libc::kill(pid as i32, libc::SIGKILL) };
            }
            self.reap();
            std::thread::sleep(Duration::from_millis(10));
        }
        self.reap();
        if let Some(mut watchdog) = self
            .watchdog
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .take()
        {
            let _ = watchdog.kill();
            let _ = watchdog.wait();
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }

    /// Reaps the daemons that have exited (they are this process's children).
    fn reap(&self) {
        let mut daemons = self.daemons.lock().unwrap_or_else(|e| e.into_inner());
        daemons.retain_mut(|child| matches!(child.try_wait(), Ok(None)));
    }
}

impl Drop for Slurm {
    fn drop(&mut self) {
        self.stop();
    }
}

/// The node's name and memory (MiB) as `slurmd -C` reports them.
fn node_line() -> (String, String) {
    let slurmd = find_program("slurmd").expect("slurmd, checked before");
    let out = Command::new(slurmd)
        .arg("-C")
        .output()
        .expect("slurmd -C runs");
    let text = String::from_utf8_lossy(&out.stdout);
    let field = |key: &str| {
        text.split_whitespace()
            .find_map(|word| word.strip_prefix(key))
            .map(str::to_owned)
            .unwrap_or_else(|| panic!("no {key} in `slurmd -C`: {text}"))
    };
    (field("NodeName="), field("RealMemory="))
}

/// An allocation made with [`Slurm::allocation`], cancelled when dropped.
pub struct Allocation<'a> {
    cluster: &'a Slurm,
    /// Its job id, what `SLURM_JOB_ID` says inside it.
    pub job: String,
}

impl Drop for Allocation<'_> {
    fn drop(&mut self) {
        let _ = self.cluster.output("scancel", &[&self.job]);
    }
}
