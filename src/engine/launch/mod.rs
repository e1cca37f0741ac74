//! Starting workers through a launcher: a command prefix that gives a
//! process stdin and stdout, here or on another machine (`ssh HOST`,
//! `srun -n1 -u`, `kubectl run -i`, `docker exec -i`, …). The worker on the
//! far side is `pooltop worker --stdio` (`worker::stdio`); frames travel over
//! the launcher's pipes, and a relay (`relay`) joins them to the pool's own
//! local socket, so the supervisor reads and writes a launched worker like
//! a local one. The launcher process's exit is the worker's death.
//!
//! The seam for other engines: [`Launcher`] is how to start a worker, and
//! [`Launcher::argv`] turns it into the command to spawn; `ssh` builds one.

mod relay;
pub mod slurm;
pub mod ssh;

use std::ffi::OsString;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

pub(crate) use relay::spawn_launched;

/// A launched worker that has sent nothing (no result, no usage report,
/// which its side sends every second) for this long is marked lost: its
/// launcher is killed and its task retried like after a crash.
pub const LOST_AFTER: Duration = Duration::from_secs(10);
/// A launched worker whose handshake has not come back by then is given up.
pub const START_TIMEOUT: Duration = Duration::from_secs(60);
/// The manager pings a launched worker when it has sent it nothing for this
/// long (its side gives up after `worker::stdio::GIVE_UP_AFTER`).
pub const PING_EVERY: Duration = Duration::from_secs(1);

/// Where and how a worker is started.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Launcher {
    /// This machine: `pooltop worker`, connecting back over the pool's socket.
    Local,
    /// Through a command prefix, speaking frames over its stdin and stdout.
    Command(CommandLauncher),
}

/// A launcher command: words, one of which may be `{cmd}` (the worker's
/// command, as separate words) — else it goes at the end. `{id}` in a word
/// becomes the worker's id, `{host}` the host.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CommandLauncher {
    /// The name shown for the workers it starts (the job log's Host column).
    pub host: Arc<str>,
    pub words: Vec<String>,
    /// The pooltop to run on the far side (default: this executable's path).
    pub program: Option<String>,
    /// Each worker's side names the machine it runs on in its handshake,
    /// and that is the host shown from then on: a scheduler, not the user,
    /// picks it (Slurm). `host` is shown until then.
    pub host_from_worker: bool,
}

impl Launcher {
    /// Parses `--launcher 'CMD … {cmd}'`, shown as `host`.
    pub fn from_template(template: &str, host: Option<&str>) -> Result<Launcher, String> {
        let words =
            shell_words::split(template).map_err(|e| format!("--launcher {template:?}: {e}"))?;
        if words.is_empty() {
            return Err("--launcher is empty".into());
        }
        let host = host.map_or_else(|| words[0].clone(), str::to_string);
        Ok(Launcher::Command(CommandLauncher {
            host: host.into(),
            words,
            program: None,
            host_from_worker: false,
        }))
    }

    /// The host its workers run on, for display: `None` for this machine.
    pub fn host(&self) -> Option<&Arc<str>> {
        match self {
            Launcher::Local => None,
            Launcher::Command(c) => Some(&c.host),
        }
    }

    /// Whether its workers name their own host (see
    /// [`CommandLauncher::host_from_worker`]).
    pub fn host_from_worker(&self) -> bool {
        matches!(self, Launcher::Command(c) if c.host_from_worker)
    }

    /// The command that starts worker `id` through this launcher (none for
    /// a local worker, which `engine::proc` starts itself). `program` is the
    /// manager's own worker executable.
    pub fn argv(&self, program: &Path, id: u32) -> Option<Vec<OsString>> {
        let Launcher::Command(c) = self else {
            return None;
        };
        let exe: OsString = c
            .program
            .as_ref()
            .map_or_else(|| program.as_os_str().to_owned(), OsString::from);
        let cmd = [exe, "worker".into(), "--stdio".into()];
        let mut argv = Vec::with_capacity(c.words.len() + cmd.len());
        let mut placed = false;
        for word in &c.words {
            if word == "{cmd}" {
                argv.extend(cmd.iter().cloned());
                placed = true;
            } else {
                let word = word
                    .replace("{id}", &id.to_string())
                    .replace("{host}", &c.host);
                argv.push(word.into());
            }
        }
        if !placed {
            argv.extend(cmd);
        }
        Some(argv)
    }
}

/// How many workers to start where (`--ssh 4/host`, `--launcher`, `:` for
/// this machine).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Placement {
    pub launcher: Launcher,
    pub workers: usize,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_worker_command_goes_where_cmd_is_or_at_the_end() {
        let l = Launcher::from_template("docker exec -i box {cmd}", None).unwrap();
        let argv = l.argv(Path::new("/bin/pooltop"), 3).unwrap();
        assert_eq!(
            argv,
            [
                "docker",
                "exec",
                "-i",
                "box",
                "/bin/pooltop",
                "worker",
                "--stdio"
            ]
            .map(OsString::from)
        );
        let l = Launcher::from_template("srun -J w{id} -u", Some("cluster")).unwrap();
        let argv = l.argv(Path::new("/p"), 7).unwrap();
        assert_eq!(
            argv,
            ["srun", "-J", "w7", "-u", "/p", "worker", "--stdio"].map(OsString::from)
        );
        assert_eq!(l.host().map(|h| &**h), Some("cluster"));
        assert!(Launcher::Local.argv(Path::new("/p"), 1).is_none());
        assert!(Launcher::from_template("", None).is_err());
        assert!(Launcher::from_template("ssh 'unclosed", None).is_err());
    }
}
