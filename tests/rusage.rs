//! Why a task ended and what it used, from the kernel, through the real
//! binary: peak RSS (`max_rss`), a crash's signal, the OOM killer.

mod helpers;

use std::collections::BTreeMap;

use helpers::*;
use serde_json::Value;

/// A Python one-liner that allocates `mib` MiB and touches every page.
fn allocate(mib: u64) -> String {
    format!("python3 -c 'b = bytearray({mib} * 1024 * 1024); b[::4096] = b\"x\" * len(b[::4096])'")
}

/// Each task's `task_finished` line, by task id, from a run's stdout.
fn finished(stdout: &[u8]) -> BTreeMap<u64, Value> {
    String::from_utf8_lossy(stdout)
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .filter(|e| e["event"] == "task_finished")
        .map(|e| (e["task"].as_u64().unwrap(), e))
        .collect()
}

#[test]
fn each_task_reports_its_peak_memory_and_a_crash_its_signal() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("data");
    std::fs::write(&file, vec![7u8; 1 << 20]).unwrap();
    let tasks = format!(
        "shell {}\nshell kill -SEGV $$\ncrash\nsha256 {}\nshell kill -KILL $$\nsquare 3\n",
        allocate(200),
        file.display()
    );
    let out = run_pooltop(&["run", "--json", "-", "-j", "2", "-"], &tasks, &[]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    let f = finished(&out.stdout);
    assert_eq!(f.len(), 6, "{f:?}");

    let big = &f[&1];
    assert_eq!(big["state"], "done", "{big}");
    let peak = big["max_rss"].as_u64().expect("max_rss") as f64;
    let want = (200u64 << 20) as f64;
    assert!(
        (peak - want).abs() <= want * 0.1,
        "peak {:.1} MiB for 200 MiB: {big}",
        peak / (1 << 20) as f64
    );

    let segv = &f[&2];
    assert_eq!(segv["state"], "failed");
    assert_eq!(segv["error"], "killed by signal 11 (SIGSEGV)", "{segv}");
    assert!(segv["max_rss"].as_u64().unwrap() > 0, "{segv}");

    let crash = &f[&3];
    assert_eq!(crash["state"], "failed");
    let why = crash["error"].as_str().unwrap();
    assert!(why.ends_with("crashed: SIGABRT"), "{crash}");

    // A built-in task: the worker's own peak, reset before it, so nothing
    // like the 200 MiB another process of the pool used.
    let hash = &f[&4];
    assert_eq!(hash["state"], "done", "{hash}");
    let own = hash["max_rss"].as_u64().expect("max_rss");
    assert!(own > 0 && own < 100 << 20, "{hash}");

    // A SIGKILL that is not the OOM killer's is not called one.
    let killed = &f[&5];
    let why = killed["error"].as_str().unwrap();
    assert!(
        why == "killed by signal 9 (SIGKILL)" || why == "killed by SIGKILL (perhaps out of memory)",
        "{killed}"
    );

    // Instant tasks are not measured.
    assert!(f[&6].get("max_rss").is_none(), "{}", f[&6]);
}

/// A memory cgroup of this process's own, limited to `limit` bytes, or why
/// not. Removed on drop.
struct Cgroup {
    dir: std::path::PathBuf,
}

impl Cgroup {
    fn new(limit: u64) -> Result<Cgroup, String> {
        let mine = std::fs::read_to_string("/proc/self/cgroup").map_err(|e| e.to_string())?;
        let limit = limit.to_string();
        // The limit first; the swap limit after it may not exist.
        let (base, files) = if let Some(path) = mine
            .lines()
            .find_map(|l| l.split_once(":memory:").map(|(_, p)| p))
        {
            let files = [
                ("memory.limit_in_bytes", limit.as_str()),
                ("memory.memsw.limit_in_bytes", limit.as_str()),
            ];
            (format!("/sys/fs/cgroup/memory{path}"), files)
        } else if let Some(path) = mine.lines().find_map(|l| l.strip_prefix("0::")) {
            let files = [("memory.max", limit.as_str()), ("memory.swap.max", "0")];
            (format!("/sys/fs/cgroup{path}"), files)
        } else {
            return Err("no memory cgroup".into());
        };
        let dir = std::path::Path::new(&base).join(format!("pooltop-test-{}", std::process::id()));
        std::fs::create_dir(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
        let cg = Cgroup { dir };
        for (i, (file, value)) in files.iter().enumerate() {
            if let Err(e) = std::fs::write(cg.dir.join(file), value)
                && i == 0
            {
                return Err(format!("{file}: {e}"));
            }
        }
        Ok(cg)
    }
}

impl Drop for Cgroup {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir(&self.dir);
    }
}

#[test]
fn a_task_the_oom_killer_kills_is_reported_out_of_memory() {
    let cg = match Cgroup::new(100 << 20) {
        Ok(cg) => cg,
        Err(why) => {
            println!("skipped: cannot make a memory cgroup ({why})");
            return;
        }
    };
    // An 8000 x 8000 RGB image: 8 MiB on disk, 183 MiB decoded, in the
    // worker itself (a built-in task), which the OOM killer then kills.
    let dir = tempfile::tempdir().unwrap();
    let big = dir.path().join("big.png");
    let png = format!(
        "import struct, zlib\n\
         def chunk(kind, data):\n\
         \x20   body = kind + data\n\
         \x20   return struct.pack('>I', len(data)) + body + struct.pack('>I', zlib.crc32(body))\n\
         w = h = 8000\n\
         z = zlib.compressobj(1)\n\
         row = bytes(1 + 3 * w)\n\
         idat = b''.join(z.compress(row) for _ in range(h)) + z.flush()\n\
         ihdr = struct.pack('>IIBBBBB', w, h, 8, 2, 0, 0, 0)\n\
         open('{}', 'wb').write(b'\\x89PNG\\r\\n\\x1a\\n' + chunk(b'IHDR', ihdr) + chunk(b'IDAT', idat) + chunk(b'IEND', b''))\n",
        big.display()
    );
    let made = std::process::Command::new("python3")
        .args(["-c", &png])
        .status()
        .unwrap();
    assert!(made.success());
    // The whole pool runs in the cgroup: the workers count its OOM kills.
    let procs = cg.dir.join("cgroup.procs");
    let script = format!(
        "echo $$ > {} && exec env {} {BIN} run --json - -j 1 --retries 0 --out {} -",
        procs.display(),
        hermetic_env(),
        dir.path().join("out").display()
    );
    let tasks = format!(
        "shell {}\nsquare 4\nthumbnail {}\nsquare 5\n",
        allocate(300),
        big.display()
    );
    let out = {
        use std::io::Write;
        use std::process::{Command, Stdio};
        let mut child = Command::new("sh")
            .args(["-c", &script])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        child
            .stdin
            .take()
            .unwrap()
            .write_all(tasks.as_bytes())
            .unwrap();
        child.wait_with_output().unwrap()
    };
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    let f = finished(&out.stdout);
    let oom = &f[&1];
    assert_eq!(oom["state"], "failed", "{oom}");
    assert_eq!(
        oom["error"], "killed by the kernel's OOM killer (out of memory)",
        "{oom}"
    );
    assert_eq!(f[&2]["result"], "16", "the pool went on");
    let worker_oom = &f[&3];
    assert_eq!(worker_oom["state"], "failed", "{worker_oom}");
    let why = worker_oom["error"].as_str().unwrap();
    assert!(
        why.ends_with("was killed by the kernel's OOM killer (out of memory)"),
        "{worker_oom}"
    );
    assert_eq!(f[&4]["result"], "25", "a new worker went on");
}
