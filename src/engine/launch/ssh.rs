//! Workers over ssh (`--ssh host1,4/user@host2,:`): the user's own `ssh`
//! binary (so `~/.ssh/config`, agents, ProxyJump and known_hosts all work),
//! one ControlMaster connection per host shared by its workers (a private
//! 0700 folder holds the control sockets), and the pooltop to run there.
//!
//! Past sshd's `MaxSessions` (10 by default) a multiplexed session is
//! refused; the OpenSSH client then opens a connection of its own for that
//! worker, so more than 10 workers on one host still start, only slower.
//!
//! `POOLTOP_SSH` replaces the `ssh` command (words, e.g. `ssh -F cfg`).

use std::ffi::OsString;
use std::fs::Permissions;
use std::io::{self, Read};
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::Arc;

use super::{CommandLauncher, Launcher, Placement};

/// The environment variable naming the ssh command (default `ssh`).
pub const ENV_SSH: &str = "POOLTOP_SSH";

/// One entry of `--ssh`: `[N/]login` or `:` (this machine).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SshHost {
    /// `user@host`, `host`, or none for this machine.
    pub login: Option<String>,
    /// Workers there; none: as many as it has CPUs (here: `-j`).
    pub workers: Option<usize>,
}

/// Parses `host1,4/user@host,:`.
pub fn parse_hosts(list: &str) -> Result<Vec<SshHost>, String> {
    list.split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(parse_host)
        .collect()
}

/// Parses an `--ssh-file`: one host per line, `#` comments. Errors start
/// with the line number.
pub fn parse_host_lines(text: &str) -> Result<Vec<SshHost>, String> {
    let mut hosts = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let line = line.split('#').next().unwrap_or("").trim();
        if !line.is_empty() {
            hosts.push(parse_host(line).map_err(|e| format!("{}: {e}", i + 1))?);
        }
    }
    if hosts.is_empty() {
        return Err("0: no host in the file".into());
    }
    Ok(hosts)
}

fn parse_host(s: &str) -> Result<SshHost, String> {
    let (workers, login) = match s.split_once('/') {
        Some((n, login)) => {
            let n: usize = n
                .parse()
                .ok()
                .filter(|n| *n >= 1)
                .ok_or_else(|| format!("`{s}`: expected N/host with N from 1 up"))?;
            (Some(n), login)
        }
        None => (None, s),
    };
    if login.is_empty() || login.contains(char::is_whitespace) {
        return Err(format!("`{s}` is not a host"));
    }
    Ok(SshHost {
        login: (login != ":").then(|| login.to_string()),
        workers,
    })
}

/// What reaching the hosts gave: where workers go, and one line for each
/// host that could not be reached.
pub struct Reached {
    pub placements: Vec<Placement>,
    pub unreachable: Vec<String>,
}

/// The ssh command and the private folder of its control sockets, for the
/// life of a pool. Dropping it closes the master connections.
pub struct Session {
    ssh: Vec<String>,
    control: tempfile::TempDir,
    logins: std::sync::Mutex<Vec<String>>,
}

impl Session {
    pub fn new() -> io::Result<Session> {
        let ssh = std::env::var(ENV_SSH)
            .ok()
            .and_then(|s| shell_words::split(&s).ok())
            .filter(|w| !w.is_empty())
            .unwrap_or_else(|| vec!["ssh".into()]);
        let control = tempfile::Builder::new()
            .prefix("pooltop-ssh-")
            .permissions(Permissions::from_mode(0o700))
            .tempdir()?;
        Ok(Session {
            ssh,
            control,
            logins: Default::default(),
        })
    }

    /// The words before the remote command: ssh with its options, then the
    /// login. `-T`: no terminal (frames are binary); BatchMode: never wait
    /// for a password; keep-alives: a dead network ends ssh within 15 s.
    pub fn words(&self, login: &str) -> Vec<String> {
        let mut w = self.ssh.clone();
        let control = format!("ControlPath={}/%C", self.control.path().display());
        for opt in [
            "BatchMode=yes",
            "ServerAliveInterval=5",
            "ServerAliveCountMax=3",
            "ControlMaster=auto",
            control.as_str(),
            "ControlPersist=30",
        ] {
            w.push("-o".into());
            w.push(opt.into());
        }
        w.push("-T".into());
        w.push(login.into());
        w
    }

    /// Reaches every host (in parallel): checks its OS and architecture
    /// against this machine's, counts its CPUs, and makes sure the pooltop
    /// to run there exists (`remote_pooltop`, else a copy of `local_exe`).
    /// `here` is how many workers `:` stands for without `N/`.
    pub fn reach(
        &self,
        hosts: &[SshHost],
        local_exe: &Path,
        remote_pooltop: Option<&str>,
        here: usize,
    ) -> Reached {
        let hash = file_hash(local_exe);
        let results: Vec<Result<Placement, String>> = std::thread::scope(|s| {
            let jobs: Vec<_> = hosts
                .iter()
                .map(|h| s.spawn(|| self.reach_one(h, local_exe, &hash, remote_pooltop, here)))
                .collect();
            jobs.into_iter()
                .map(|j| {
                    j.join()
                        .unwrap_or_else(|_| Err("reaching it failed".into()))
                })
                .collect()
        });
        let mut reached = Reached {
            placements: Vec::new(),
            unreachable: Vec::new(),
        };
        for r in results {
            match r {
                Ok(p) => reached.placements.push(p),
                Err(line) => reached.unreachable.push(line),
            }
        }
        reached
    }

    fn reach_one(
        &self,
        host: &SshHost,
        local_exe: &Path,
        hash: &str,
        remote_pooltop: Option<&str>,
        here: usize,
    ) -> Result<Placement, String> {
        let Some(login) = &host.login else {
            return Ok(Placement {
                launcher: Launcher::Local,
                workers: host.workers.unwrap_or(here),
            });
        };
        self.logins.lock().map(|mut l| l.push(login.clone())).ok();
        let cached = format!(".cache/pooltop/pooltop-{hash}");
        let probe =
            format!("uname -sm; nproc; if [ -x {cached} ]; then echo have; else echo need; fi");
        let out = self
            .run(login, &probe, None)
            .map_err(|said| format!("host {login}: cannot reach it: {said}"))?;
        let mut lines = out.lines();
        let (os, cpus, have) = (lines.next(), lines.next(), lines.next());
        let here_os = local_os();
        if os != Some(here_os.as_str()) {
            return Err(format!(
                "host {login}: it runs `{}`, this pooltop is built for `{here_os}`: \
                 give --remote-pooltop PATH to a pooltop built for it",
                os.unwrap_or("?")
            ));
        }
        let cpus: usize = cpus.and_then(|c| c.trim().parse().ok()).unwrap_or(1);
        let program = match remote_pooltop {
            Some(p) => p.to_string(),
            None => {
                if have != Some("have") {
                    self.install(login, local_exe, &cached)?;
                }
                cached
            }
        };
        Ok(Placement {
            launcher: self.launcher(login, &program),
            workers: host.workers.unwrap_or(cpus),
        })
    }

    /// The launcher of workers on `login` running `program` there.
    pub fn launcher(&self, login: &str, program: &str) -> Launcher {
        let mut words = self.words(login);
        words.push("{cmd}".into());
        Launcher::Command(CommandLauncher {
            host: Arc::from(login),
            words,
            program: Some(shell_words::quote(program).into_owned()),
            host_from_worker: false,
        })
    }

    /// Copies `local_exe` to `path` (relative to the remote home) through
    /// ssh's stdin, into a private folder, under a temporary name first.
    fn install(&self, login: &str, local_exe: &Path, path: &str) -> Result<(), String> {
        let file = std::fs::File::open(local_exe)
            .map_err(|e| format!("cannot read {}: {e}", local_exe.display()))?;
        let script = format!(
            "set -e; umask 077; mkdir -p .cache/pooltop; chmod 700 .cache/pooltop; \
             t={path}.tmp.$$; cat > $t; chmod 700 $t; mv $t {path}"
        );
        self.run(login, &script, Some(file))
            .map(drop)
            .map_err(|said| format!("host {login}: cannot copy pooltop there: {said}"))
    }

    /// Runs `script` on `login`; its stdout, or what ssh or the script said.
    fn run(
        &self,
        login: &str,
        script: &str,
        stdin: Option<std::fs::File>,
    ) -> Result<String, String> {
        let mut words = self.words(login);
        words.push(script.into());
        let mut cmd = Command::new(&words[0]);
        cmd.args(&words[1..])
            .stdin(stdin.map_or_else(Stdio::null, Stdio::from))
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let out = cmd
            .output()
            .map_err(|e| format!("cannot run {}: {e}", words[0]))?;
        if out.status.success() {
            return Ok(String::from_utf8_lossy(&out.stdout).into_owned());
        }
        let said = String::from_utf8_lossy(&out.stderr);
        let said: Vec<&str> = said
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty())
            .collect();
        Err(if said.is_empty() {
            format!("ssh exited with {}", out.status)
        } else {
            said.join(" / ")
        })
    }
}

impl Drop for Session {
    /// Closes each master connection (it would otherwise linger for
    /// `ControlPersist`).
    fn drop(&mut self) {
        let logins = self.logins.lock().map(|l| l.clone()).unwrap_or_default();
        for login in logins {
            let mut words = self.words(&login);
            let at = words.len() - 2; // before -T and the login
            words.splice(at..at, ["-O".to_string(), "exit".to_string()]);
            let _ = Command::new(&words[0])
                .args(&words[1..])
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status();
        }
    }
}

/// `uname -sm` of this machine.
fn local_os() -> String {
    crate::platform::os_and_arch()
}

/// The first 16 hex digits of the SHA-256 of a file (the copy's name, so a
/// new build is copied again and an old one is never run by mistake).
fn file_hash(path: &Path) -> String {
    use sha2::Digest;
    let mut hasher = sha2::Sha256::new();
    if let Ok(mut f) = std::fs::File::open(path) {
        let mut buf = vec![0u8; 1 << 20];
        while let Ok(n) = f.read(&mut buf) {
            if n == 0 {
                break;
            }
            hasher.update(&buf[..n]);
        }
    }
    let digest = hasher.finalize();
    digest.iter().take(8).map(|b| format!("{b:02x}")).collect()
}

/// The argv of a launched worker on `login` (for tests and benchmarks).
pub fn argv_for(session: &Session, login: &str, program: &str) -> Vec<OsString> {
    session
        .launcher(login, program)
        .argv(Path::new(program), 1)
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hosts_parse_as_gnu_parallel_writes_them() {
        let hosts = parse_hosts("a, 4/me@b,:,2/:").unwrap();
        assert_eq!(
            hosts[0],
            SshHost {
                login: Some("a".into()),
                workers: None
            }
        );
        assert_eq!(
            hosts[1],
            SshHost {
                login: Some("me@b".into()),
                workers: Some(4)
            }
        );
        assert_eq!(
            hosts[2],
            SshHost {
                login: None,
                workers: None
            }
        );
        assert_eq!(
            hosts[3],
            SshHost {
                login: None,
                workers: Some(2)
            }
        );
        assert!(parse_hosts("0/a").unwrap_err().contains("from 1 up"));
        assert!(
            parse_host_lines("a\n# c\n\nx/b\n")
                .unwrap_err()
                .starts_with("4: ")
        );
        assert_eq!(parse_host_lines("a # main\n:\n").unwrap().len(), 2);
    }

    #[test]
    fn the_worker_command_comes_after_the_login() {
        let s = Session::new().unwrap();
        let argv = argv_for(&s, "me@b", "/opt/my pooltop");
        let words: Vec<String> = argv
            .iter()
            .map(|w| w.to_string_lossy().into_owned())
            .collect();
        let at = words.iter().position(|w| w == "me@b").unwrap();
        assert_eq!(words[at - 1], "-T");
        assert_eq!(&words[at + 1..], ["'/opt/my pooltop'", "worker", "--stdio"]);
        assert!(words.iter().any(|w| w == "ControlMaster=auto"));
        let mode = std::fs::metadata(s.control.path())
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o700);
    }
}
