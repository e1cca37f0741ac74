//! Where the next worker starts (`PoolConfig::placements`: `--ssh`,
//! `--launcher`, this machine), and what happens to a host whose launcher
//! fails: one clear line, and the pool goes on with the other hosts.

use std::sync::Arc;

use super::Supervisor;
use crate::engine::events::{HostCores, PoolEvent, ProcStat, Sample, WorkerId, WorkerStat};
use crate::engine::launch::Launcher;

impl Supervisor {
    /// The launcher for the next worker: the placement furthest below its
    /// share, else (the pool scaled beyond the shares) the least loaded one.
    /// None when every host has failed.
    pub(super) fn next_placement(&self) -> Option<Launcher> {
        if self.config.placements.is_empty() {
            return Some(Launcher::Local);
        }
        let alive_on = |host: Option<&Arc<str>>| {
            self.workers
                .values()
                .filter(|w| w.phase.counts_as_alive() && w.host.as_ref() == host)
                .count()
        };
        let live = self.config.placements.iter().filter(|p| {
            p.launcher
                .host()
                .is_none_or(|h| !self.dead_hosts.contains(h))
        });
        // Fewest alive workers per share first (a share of 0 never wins).
        live.min_by(|a, b| {
            let load = |p: &crate::engine::launch::Placement| {
                alive_on(p.launcher.host()) as f64 / p.workers.max(1) as f64
            };
            load(a).total_cmp(&load(b))
        })
        .map(|p| p.launcher.clone())
    }

    /// Puts what launched workers reported of themselves into a sample of
    /// this machine (which saw only their launchers), and each host's cores.
    pub(super) fn remote_figures(&self, sample: &mut Sample) {
        for (id, record) in &self.workers {
            let (Some(host), Some(usage)) = (&record.host, &record.usage) else {
                continue;
            };
            let stat = ProcStat {
                cpu: usage.cpu_percent,
                rss: usage.rss,
                procs: 1,
            };
            match sample.workers.iter_mut().find(|w| w.worker == *id) {
                Some(w) => w.stat = stat,
                None => sample.workers.push(WorkerStat {
                    worker: *id,
                    pid: record.pid,
                    stat,
                }),
            }
            if !sample.hosts.iter().any(|h| h.host == *host) {
                sample.hosts.push(HostCores {
                    host: host.clone(),
                    cores: usage.cores.clone(),
                });
            }
        }
    }

    /// Where worker `w` runs, for messages.
    pub(super) fn host_of(&self, w: WorkerId) -> String {
        self.workers
            .get(&w)
            .and_then(|r| r.host.as_deref())
            .unwrap_or("this machine")
            .to_string()
    }

    /// Worker `w`'s launcher ended before its handshake: its host is given
    /// up (said once), and the pool goes on with the others.
    pub(super) fn launch_failed(&mut self, w: WorkerId, said: String) {
        let Some(host) = self.workers.get(&w).and_then(|r| r.host.clone()) else {
            return;
        };
        if !self.dead_hosts.insert(host.clone()) {
            return;
        }
        let said = if said.is_empty() {
            "its launcher exited without a word".to_string()
        } else {
            said
        };
        let share: usize = self
            .config
            .placements
            .iter()
            .filter(|p| p.launcher.host() == Some(&host))
            .map(|p| p.workers)
            .sum();
        self.wanted = self.wanted.saturating_sub(share);
        let others = self.config.placements.len() > 1;
        self.emit(PoolEvent::Error {
            worker: Some(w),
            message: format!(
                "host {host}: worker {w} did not start: {said}{}",
                if others { " (going on without it)" } else { "" }
            ),
        });
    }
}
