//! A throwaway sshd on 127.0.0.1 at a free high port, with keys made for
//! the test (`../shared/SCALE-OUT.md` §2.2), and an ssh client config that
//! reaches it under two host names. Killed when dropped.
#![allow(dead_code)]

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

pub struct Sshd {
    dir: tempfile::TempDir,
    child: Child,
    /// What `POOLTOP_SSH` must say to use it (`ssh -F CONFIG`).
    pub ssh: String,
}

/// sshd's limit of sessions on one connection (10 by default), low here so
/// that a test goes past it cheaply.
pub const MAX_SESSIONS: usize = 3;

/// Host names of the config, both this machine's sshd.
pub const HOSTS: [&str; 2] = ["pt-host-a", "pt-host-b"];

impl Sshd {
    /// Starts one; None (and a note) when sshd is not installed, outside CI
    /// (`.ci/run` installs it, and under CI a missing sshd fails the test).
    pub fn start() -> Option<Sshd> {
        let Some(sshd) = ["/usr/sbin/sshd", "/usr/bin/sshd"]
            .into_iter()
            .map(PathBuf::from)
            .find(|p| p.exists())
        else {
            assert!(std::env::var_os("CI").is_none(), "sshd is not installed");
            eprintln!("skipped: sshd is not installed (apt-get install openssh-server)");
            return None;
        };
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        for key in ["host_key", "client_key"] {
            let ok = Command::new("ssh-keygen")
                .args(["-q", "-t", "ed25519", "-N", "", "-f"])
                .arg(d.join(key))
                .status()
                .unwrap()
                .success();
            assert!(ok, "ssh-keygen");
        }
        std::fs::copy(d.join("client_key.pub"), d.join("authorized_keys")).unwrap();
        let port = {
            let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            l.local_addr().unwrap().port()
        };
        std::fs::create_dir_all("/run/sshd").unwrap();
        let conf = d.join("sshd_config");
        std::fs::write(
            &conf,
            format!(
                "Port {port}\nListenAddress 127.0.0.1\nHostKey {d}/host_key\nPidFile {d}/sshd.pid\n\
                 AuthorizedKeysFile {d}/authorized_keys\nPermitRootLogin prohibit-password\n\
                 PasswordAuthentication no\nKbdInteractiveAuthentication no\nUsePAM no\n\
                 StrictModes no\nMaxStartups 64\nMaxSessions {MAX_SESSIONS}\n",
                d = d.display()
            ),
        )
        .unwrap();
        let mut client = String::new();
        for host in HOSTS {
            client += &format!(
                "Host {host}\n  HostName 127.0.0.1\n  Port {port}\n  User {user}\n  \
                 IdentityFile {d}/client_key\n  IdentitiesOnly yes\n  \
                 UserKnownHostsFile {d}/known_hosts\n  StrictHostKeyChecking accept-new\n  \
                 LogLevel ERROR\n",
                d = d.display(),
                user = whoami(),
            );
        }
        std::fs::write(d.join("ssh_config"), client).unwrap();
        let child = Command::new(&sshd)
            .args(["-D", "-e", "-f"])
            .arg(&conf)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let ssh = format!("ssh -F {}", d.join("ssh_config").display());
        let me = Sshd { dir, child, ssh };
        // Up once a plain session runs.
        let deadline = std::time::Instant::now() + Duration::from_secs(20);
        loop {
            let ok = Command::new("ssh")
                .args(["-F"])
                .arg(me.dir.path().join("ssh_config"))
                .args(["-o", "BatchMode=yes", HOSTS[0], "true"])
                .stdin(Stdio::null())
                .stderr(Stdio::null())
                .status()
                .is_ok_and(|s| s.success());
            if ok {
                return Some(me);
            }
            assert!(std::time::Instant::now() < deadline, "sshd did not come up");
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

fn whoami() -> String {
    std::env::var("USER").unwrap_or_else(|_| "root".into())
}

impl Drop for Sshd {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
