//! `--ssh`, `--ssh-file`, `--launcher`, `--slurm`, `--remote-pooltop`: where the
//! workers start. Reaches each ssh host once before the pool starts (its
//! OS, its CPUs, the pooltop to run there, copied if need be); a host that
//! cannot be reached is one line on stderr, and the run goes on without it.

use super::Failure;
use crate::cli::RemoteArgs;
use pooltop::engine::PoolConfig;
use pooltop::engine::launch::{Launcher, Placement, slurm, ssh};

/// Fills `config.placements` from the flags. The returned ssh session
/// (its private ControlMaster folder) must live as long as the pool.
pub fn place(args: &RemoteArgs, config: &mut PoolConfig) -> Result<Option<ssh::Session>, Failure> {
    if args.slurm {
        let job = slurm::allocation_from(|name| std::env::var(name).ok());
        place_all(slurm::launcher(job.as_deref()), args, config);
        return Ok(None);
    }
    if let Some(template) = &args.launcher {
        let launcher = Launcher::from_template(template, None).map_err(Failure::usage)?;
        place_all(launcher, args, config);
        return Ok(None);
    }
    let hosts = match (&args.ssh, &args.ssh_file) {
        (Some(list), _) => {
            ssh::parse_hosts(list).map_err(|e| Failure::usage(format!("--ssh: {e}")))?
        }
        (None, Some(file)) => {
            let text = std::fs::read_to_string(file)
                .map_err(|e| Failure::usage(format!("--ssh-file {}: {e}", file.display())))?;
            ssh::parse_host_lines(&text)
                .map_err(|e| Failure::usage(format!("--ssh-file {}:{e}", file.display())))?
        }
        (None, None) => return Ok(None),
    };
    let session = ssh::Session::new()
        .map_err(|e| Failure::usage(format!("cannot make ssh's control folder: {e}")))?;
    let local_exe = match &config.worker_program {
        Some(p) => p.clone(),
        None => std::env::current_exe()
            .map_err(|e| Failure::usage(format!("cannot find this executable: {e}")))?,
    };
    let placements = session.reach(
        &hosts,
        &local_exe,
        args.remote_pooltop.as_deref(),
        config.workers,
    );
    for line in &placements.unreachable {
        eprintln!("pooltop: {line}");
    }
    if placements.placements.is_empty() {
        return Err(Failure::usage("no host of --ssh could be reached"));
    }
    config.workers = placements.placements.iter().map(|p| p.workers).sum();
    config.placements = placements.placements;
    Ok(Some(session))
}

/// Every worker through `launcher` (`--launcher`, `--slurm`), running the
/// `--remote-pooltop` if one is named.
fn place_all(mut launcher: Launcher, args: &RemoteArgs, config: &mut PoolConfig) {
    if let (Launcher::Command(c), Some(p)) = (&mut launcher, &args.remote_pooltop) {
        c.program = Some(p.clone());
    }
    config.placements = vec![Placement {
        launcher,
        workers: config.workers,
    }];
}
