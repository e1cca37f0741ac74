//! What a run tells its user, end to end with the real binary: results on
//! stdout (byte for byte as the kind's own tool prints them), failures on
//! stderr with their line, output collisions refused before anything runs,
//! and the summary's figures after a killed task.

mod helpers;

use std::path::Path;
use std::process::{Child, Command, Output, Stdio};
use std::time::Duration;

use helpers::*;
use serde_json::Value;

const LONG: Duration = Duration::from_secs(20);

/// Runs pooltop in `dir` (as its working folder) with its own control folder.
fn pooltop_in(dir: &Path, args: &[&str], stdin: &str) -> Output {
    use std::io::Write;
    let mut child = command_in(dir)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let _ = child.stdin.take().unwrap().write_all(stdin.as_bytes());
    child.wait_with_output().unwrap()
}

fn command_in(dir: &Path) -> Command {
    let mut cmd = pooltop_command();
    cmd.current_dir(dir)
        .env("POOLTOP_CONTROL_DIR", dir.join("ctl"));
    cmd
}

fn text(o: &Output) -> (String, String) {
    (
        String::from_utf8_lossy(&o.stdout).into_owned(),
        String::from_utf8_lossy(&o.stderr).into_owned(),
    )
}

/// A folder with a private control folder in it and `files` of some bytes.
fn workdir(files: &[&str]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let ctl = dir.path().join("ctl");
    std::fs::create_dir(&ctl).unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&ctl, std::fs::Permissions::from_mode(0o700)).unwrap();
    for (i, name) in files.iter().enumerate() {
        let path = dir.path().join(name);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        let bytes: Vec<u8> = (0..(i + 1) * 3001).map(|b| (b * 7 + i) as u8).collect();
        std::fs::write(path, bytes).unwrap();
    }
    dir
}

fn image(dir: &Path, name: &str, w: u32, h: u32) {
    let path = dir.join(name);
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    image::RgbImage::from_fn(w, h, |x, y| image::Rgb([x as u8, y as u8, 90]))
        .save(path)
        .unwrap();
}

/// `sha256sum ARGS` in `dir`.
fn sha256sum(dir: &Path, args: &[&str]) -> Output {
    Command::new("sha256sum")
        .args(args)
        .current_dir(dir)
        .output()
        .expect("sha256sum (coreutils) is installed")
}

#[test]
fn a_hash_run_prints_what_sha256sum_prints_byte_for_byte() {
    let names = [
        "f1.bin",
        "sub/f2.bin",
        "my file.bin",
        "back\\slash.bin",
        "f5.bin",
    ];
    let dir = workdir(&names);
    let d = dir.path();
    let lines: String = names
        .iter()
        .map(|n| format!("sha256 {}\n", shell_words::quote(n)))
        .collect();
    std::fs::write(d.join("hash.txt"), &lines).unwrap();
    let out = pooltop_in(d, &["run", "-j", "3", "-k", "hash.txt"], "");
    let (stdout, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    let want = sha256sum(d, &names);
    assert_eq!(
        stdout,
        String::from_utf8_lossy(&want.stdout),
        "-k: in input order"
    );
    assert!(stderr.contains("5 submitted = 5 done"), "{stderr}");
    // What it printed checks out with `sha256sum -c`.
    std::fs::write(d.join("sums"), &out.stdout).unwrap();
    let check = sha256sum(d, &["-c", "sums"]);
    assert!(
        check.status.success(),
        "{}",
        String::from_utf8_lossy(&check.stdout)
    );

    // Without -k the same lines, in the order the tasks finished.
    let out = pooltop_in(d, &["run", "-j", "3", "hash.txt"], "");
    let mut got: Vec<&str> = std::str::from_utf8(&out.stdout).unwrap().lines().collect();
    let want_text = String::from_utf8_lossy(&want.stdout).into_owned();
    let mut want: Vec<&str> = want_text.lines().collect();
    got.sort_unstable();
    want.sort_unstable();
    assert_eq!(got, want);
}

#[test]
fn a_failing_thumbnail_is_named_on_stderr_with_its_line() {
    let dir = workdir(&[]);
    let d = dir.path();
    image(d, "imgs/hills.png", 64, 40);
    image(d, "imgs/sea.png", 30, 30);
    std::fs::write(
        d.join("thumbs.txt"),
        "thumbnail imgs/hills.png 32x32\n# no such picture:\nthumbnail imgs/nope.png\nthumbnail imgs/sea.png\n",
    )
    .unwrap();
    let out = pooltop_in(
        d,
        &["run", "-j", "2", "-k", "--out", "out", "thumbs.txt"],
        "",
    );
    let (stdout, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert_eq!(stdout, "out/hills.png\nout/sea.png\n");
    assert!(
        stderr.contains(
            "pooltop: task 2 failed (thumbs.txt:3 `thumbnail imgs/nope.png`): cannot read `imgs/nope.png`: No such file"
        ),
        "{stderr}"
    );
    assert!(stderr.contains("\npooltop: failed tasks: 2\n"), "{stderr}");
    assert!(d.join("out/hills.png").is_file() && d.join("out/sea.png").is_file());

    // --quiet: the summary and nothing else.
    let out = pooltop_in(d, &["run", "--quiet", "--out", "out", "thumbs.txt"], "");
    let (stdout, stderr) = text(&out);
    assert_eq!((stdout.as_str(), out.status.code()), ("", Some(1)));
    assert!(
        stderr.lines().all(|l| l.starts_with("pooltop: ")),
        "{stderr}"
    );
    assert!(!stderr.contains("cannot read"), "{stderr}");
    assert!(
        stderr.contains("3 submitted = 2 done + 1 failed"),
        "{stderr}"
    );

    // --json -: stdout is the JSON stream only.
    let out = pooltop_in(d, &["run", "--json", "-", "--out", "out", "thumbs.txt"], "");
    for line in String::from_utf8_lossy(&out.stdout).lines() {
        serde_json::from_str::<Value>(line).unwrap_or_else(|e| panic!("{line}: {e}"));
    }
    assert!(
        text(&out).1.contains("thumbs.txt:3"),
        "failures still on stderr"
    );
}

#[test]
fn two_tasks_writing_one_file_are_refused_naming_both_lines() {
    let dir = workdir(&[]);
    let d = dir.path();
    image(d, "imgs/hills.png", 20, 20);
    image(d, "other/hills.jpg", 20, 20);
    std::fs::write(
        d.join("t.txt"),
        "thumbnail imgs/hills.png\nsquare 3\nthumbnail other/hills.jpg 64x64\n",
    )
    .unwrap();
    let out = pooltop_in(d, &["run", "--out", "out", "t.txt"], "");
    let (stdout, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert_eq!(stdout, "");
    assert_eq!(
        stderr,
        "pooltop: t.txt:3: would write `out/hills.png`, which t.txt:1 writes too \
         (two tasks of a run may not write the same file)\n\
         pooltop: t.txt: 1 task(s) would overwrite the output of another; nothing was run\n"
    );
    assert!(!d.join("out").exists(), "nothing ran");
}

/// `pooltop run --headless --keep-alive --name NAME ARGS…` in `dir`, once
/// `pooltop status` answers.
fn keep_alive(dir: &Path, name: &str, args: &[&str]) -> Child {
    let child = command_in(dir)
        .args(["run", "--headless", "--keep-alive", "--name", name])
        .args(["--join-timeout", "0.5"])
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    wait_for("the pool to answer", LONG, || {
        pooltop_in(dir, &["status", "--pool", name], "")
            .status
            .success()
    });
    child
}

#[test]
fn a_submit_that_would_overwrite_a_file_of_the_run_is_refused() {
    let dir = workdir(&[]);
    let d = dir.path();
    image(d, "imgs/hills.png", 20, 20);
    image(d, "other/hills.png", 20, 20);
    std::fs::write(
        d.join("t.txt"),
        "# the run's own\nthumbnail imgs/hills.png\n",
    )
    .unwrap();
    let mut pool = keep_alive(d, "c", &["--out", "out", "t.txt"]);
    let out = pooltop_in(
        d,
        &[
            "submit",
            "--pool",
            "c",
            "--",
            "thumbnail",
            "other/hills.png",
        ],
        "",
    );
    let (stdout, stderr) = text(&out);
    assert_eq!(
        (stdout.as_str(), out.status.code()),
        ("", Some(2)),
        "{stderr}"
    );
    assert_eq!(
        stderr,
        "pooltop: nothing was submitted: <submit>:1: would write `out/hills.png`, which t.txt:2 \
         writes too (two tasks of a run may not write the same file)\n"
    );
    // Another file is fine; after it, that file is taken too, by its id.
    let out = pooltop_in(
        d,
        &["submit", "--pool", "c", "--", "thumbnail", "other/x.png"],
        "",
    );
    assert_eq!(text(&out).0, "2\n");
    std::fs::write(d.join("more.txt"), "square 2\nthumbnail y/x.png\n").unwrap();
    let out = pooltop_in(d, &["submit", "--pool", "c", "more.txt"], "");
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out)
            .1
            .contains("<submit>:2: would write `out/x.png`, which task 2 (<submit>:1)"),
        "{}",
        text(&out).1
    );
    pooltop_in(d, &["stop", "--pool", "c"], "");
    assert!(pool.wait().unwrap().code().is_some());
}

#[test]
fn wait_results_prints_the_awaited_tasks_as_a_run_does() {
    let names = ["a.bin", "b.bin", "c.bin"];
    let dir = workdir(&names);
    let d = dir.path();
    let pool = keep_alive(d, "w", &["-j", "2"]);
    let lines = "sha256 a.bin\nsha256 b.bin\nfail on purpose\nsha256 c.bin\n";
    let out = pooltop_in(d, &["submit", "--pool", "w"], lines);
    let ids: Vec<String> = text(&out).0.lines().map(String::from).collect();
    assert_eq!(ids, ["1", "2", "3", "4"]);
    let mut args = vec!["wait", "--pool", "w", "--results"];
    args.extend(ids.iter().map(String::as_str));
    let out = pooltop_in(d, &args, "");
    let (stdout, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert_eq!(
        stdout,
        String::from_utf8_lossy(&sha256sum(d, &names).stdout)
    );
    assert!(
        stderr.starts_with("pooltop: task 3 failed (`fail on purpose`): on purpose\n"),
        "{stderr}"
    );
    assert!(stderr.contains("4 task(s): 3 done, 1 failed"), "{stderr}");
    pooltop_in(d, &["stop", "--pool", "w"], "");
    let out = pool.wait_with_output().unwrap();
    // The pool's own face printed the same, as the tasks finished.
    let mut own: Vec<String> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(String::from)
        .collect();
    own.sort();
    assert_eq!(own.len(), 3, "{own:?}");
}

#[test]
fn the_summary_after_a_killed_hang_leaves_its_time_out() {
    let dir = workdir(&[]);
    let d = dir.path();
    std::fs::write(d.join("t.txt"), "hang\nspin 2e7\nspin 2e7\n").unwrap();
    let child = command_in(d)
        .args([
            "run",
            "--headless",
            "--name",
            "k",
            "-j",
            "2",
            "--json",
            "events.jsonl",
        ])
        .arg("t.txt")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // The hang's worker, once both spins are done.
    let mut hung = None;
    wait_for("the spins to finish", LONG, || {
        let out = pooltop_in(d, &["status", "--pool", "k", "--json"], "");
        let Ok(s) = serde_json::from_slice::<Value>(&out.stdout) else {
            return false;
        };
        hung = s["workers"]
            .as_array()
            .and_then(|ws| ws.iter().find(|w| w["task_line"] == "hang"))
            .map(|w| w["id"].to_string());
        s["counts"]["done"] == 2 && hung.is_some()
    });
    let out = pooltop_in(d, &["kill", "--pool", "k", &hung.unwrap()], "");
    assert!(out.status.success(), "{:?}", text(&out));
    let out = child.wait_with_output().unwrap();
    let (_, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("pooltop: task 1 cancelled (t.txt:1 `hang`): worker w"),
        "{stderr}"
    );
    assert!(
        stderr.contains("3 submitted = 2 done + 0 failed + 0 timed out + 1 cancelled"),
        "{stderr}"
    );
    assert!(
        stderr.ends_with("\npooltop: cancelled tasks: 1\n"),
        "{stderr}"
    );
    let events: Vec<Value> = std::fs::read_to_string(d.join("events.jsonl"))
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let summary = events.last().unwrap().clone();
    assert_eq!(summary["event"], "summary");
    let f = |k: &str| {
        summary[k]
            .as_f64()
            .unwrap_or_else(|| panic!("{k}: {summary}"))
    };
    let wall_of = |state: &str| -> f64 {
        events
            .iter()
            .filter(|e| e["event"] == "task_finished" && e["state"] == state)
            .map(|e| e["wall_s"].as_f64().unwrap())
            .sum()
    };
    // The hang's time is apart, as killed; the task time is the spins'.
    let (spins, hang) = (wall_of("done"), wall_of("cancelled"));
    assert!(hang > 0.0 && spins > 0.0, "{summary}");
    assert!((f("task_s") - spins).abs() < 1e-6, "{summary}");
    assert!((f("killed_s") - hang).abs() < 1e-6, "{summary}");
    assert_eq!(
        (f("cancelled_s"), f("timed_out_s")),
        (0.0, 0.0),
        "{summary}"
    );
    let line = stderr
        .lines()
        .find(|l| l.starts_with("pooltop: not in task time: killed "))
        .unwrap_or_else(|| panic!("{stderr}"));
    assert_eq!(
        line,
        format!(
            "pooltop: not in task time: killed {hang:.3}s · timed out 0.000s · cancelled 0.000s"
        )
    );
    // Speedup is task time over wall; efficiency task time over worker time.
    let speedup = f("task_s") / f("wall_s");
    assert!((f("speedup") - speedup).abs() < 1e-6, "{summary}");
    assert!(f("efficiency") <= f("speedup"), "{summary}");
    assert_eq!(
        (
            summary["workers_min"].as_u64(),
            summary["workers_max"].as_u64()
        ),
        (Some(2), Some(2)),
        "{summary}"
    );
    assert!(stderr.contains(" on 2 workers · efficiency "), "{stderr}");
}

#[test]
fn quiet_goes_with_a_task_file() {
    let dir = workdir(&[]);
    let out = pooltop_in(
        dir.path(),
        &["run", "--quiet", "--", "echo", ":::", "a"],
        "",
    );
    assert_eq!(out.status.code(), Some(255), "as a template's usage error");
    assert_eq!(
        text(&out).1,
        "pooltop: --quiet goes with a task file: pooltop run [OPTIONS] TASKFILE\n"
    );
}
