//! The control CLI, a face of its own: `pooltop ls`, `submit`, `status`,
//! `wait`, `pause`, `resume`, `terminate`, `kill`, `scale`, `stop`, talking to
//! a running pool's control socket. Errors are one line for the user; the
//! caller adds the `pooltop:` prefix and exits with status 2.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::cli::{TaskSelect, WorkerSelect};
use crate::control::client::Client;
use crate::control::live_pools;
use crate::control::wire::{Order, Reply, Request, StatusView};
use crate::report::human;
use crate::report::results::Shown;
use pooltop::engine::Counts;

/// Verbs aimed at workers.
#[derive(Debug, Clone, Copy)]
pub enum Verb {
    /// `pooltop pause`: stop the workers' process groups.
    Pause,
    /// `pooltop resume`: continue paused workers.
    Resume,
    /// `pooltop terminate`: stop after the task, killed after the join timeout.
    Terminate,
    /// `pooltop kill`: kill now.
    Kill,
}

/// Turns the words after `submit --` into one task line. A `shell` task keeps
/// its words as they are (they are a command line, as with `ssh host cmd`);
/// other kinds get each word quoted, so `sha256 'my file'` stays one path.
pub fn line_from_words(words: &[String]) -> String {
    match words.split_first() {
        Some((kind, rest)) if kind == "shell" => format!("shell {}", rest.join(" ")),
        _ => shell_words::join(words),
    }
}

fn unexpected(reply: Reply) -> String {
    match reply {
        Reply::Error { message } => message,
        other => format!("unexpected answer from the pool: {other:?}"),
    }
}

/// `pooltop ls`: a line (or a JSON status) for each running pool.
pub fn ls(json: bool) -> Result<u8, String> {
    let pools = live_pools().map_err(|e| format!("control directory: {e}"))?;
    let mut rows = Vec::new();
    for p in &pools {
        // A pool may stop between listing and asking: leave it out then.
        let Ok(mut c) = Client::connect(Some(&p.name)) else {
            continue;
        };
        if let Ok(Reply::Status(s)) = c.request(&Request::Status) {
            rows.push(s);
        }
    }
    if json {
        println!(
            "{}",
            serde_json::to_string_pretty(&rows).map_err(|e| e.to_string())?
        );
        return Ok(0);
    }
    if rows.is_empty() {
        pooltop::say!("pooltop: no pool is running");
        return Ok(0);
    }
    println!(
        "{:<20} {:>8} {:>7} {:>7} {:>7} {:>8} {:>7}  STARTED",
        "NAME", "PID", "WORKERS", "QUEUED", "RUNNING", "DONE", "FAILED"
    );
    for s in rows {
        let c = s.counts;
        println!(
            "{:<20} {:>8} {:>7} {:>7} {:>7} {:>8} {:>7}  {} ago",
            s.name,
            s.pid,
            s.workers.len(),
            s.queued,
            s.running,
            c.done,
            c.failed + c.timed_out + c.cancelled,
            human(Duration::from_secs_f64(s.uptime_s))
        );
    }
    Ok(0)
}

/// `pooltop submit`: queues the lines, prints their task ids one a line.
pub fn submit(pool: Option<&str>, lines: Vec<String>) -> Result<u8, String> {
    let mut c = Client::connect(pool)?;
    match c.request(&Request::Submit { lines })? {
        Reply::Submitted { ids } => {
            for id in ids {
                println!("{id}");
            }
            Ok(0)
        }
        Reply::Refused { errors } => Err(format!("nothing was submitted: {}", errors.join("; "))),
        other => Err(unexpected(other)),
    }
}

/// `pooltop status`: the pool's figures and workers, as text or JSON.
pub fn status(pool: Option<&str>, json: bool) -> Result<u8, String> {
    let mut c = Client::connect(pool)?;
    let s = match c.request(&Request::Status)? {
        Reply::Status(s) => s,
        other => return Err(unexpected(other)),
    };
    if json {
        println!(
            "{}",
            serde_json::to_string_pretty(&s).map_err(|e| e.to_string())?
        );
    } else {
        print_status(&s);
    }
    Ok(0)
}

fn print_status(s: &StatusView) {
    let c = s.counts;
    let started = UNIX_EPOCH + Duration::from_secs(s.started_unix);
    let ago = SystemTime::now()
        .duration_since(started)
        .unwrap_or_default();
    println!(
        "pool {} (pid {}) running {}, up {}{}",
        s.name,
        s.pid,
        s.title,
        human(ago),
        if s.dispatch_paused {
            " — DISPATCH PAUSED"
        } else {
            ""
        }
    );
    if let Some(h) = &s.held {
        println!("dispatch held by {h}");
    }
    println!(
        "workers {} (wanted {}) · queued {} · running {} · done {} · failed {} · timed out {} · cancelled {} · submitted {}",
        s.workers.len(),
        s.workers_wanted,
        s.queued,
        s.running,
        c.done,
        c.failed,
        c.timed_out,
        c.cancelled,
        c.submitted
    );
    if !s.cores.is_empty() {
        let cores: Vec<String> = s.cores.iter().map(|c| format!("{c:.0}%")).collect();
        println!("cores {}", cores.join(" "));
    }
    // A HOST column when any worker runs elsewhere (`:` is this machine,
    // as in GNU parallel's job log).
    let hosts = s.workers.iter().any(|w| w.host.is_some());
    let host_of = |w: &crate::control::wire::WorkerView| match (&w.host, hosts) {
        (_, false) => String::new(),
        (Some(h), true) => format!("{h:<16} "),
        (None, true) => format!("{:<16} ", ":"),
    };
    println!(
        "{:>6} {:>8} {}{:<9} {:>6} {:>6} {:>5} {:>8}  TASK",
        "WORKER",
        "PID",
        if hosts {
            format!("{:<16} ", "HOST")
        } else {
            String::new()
        },
        "STATE",
        "DONE",
        "FAILED",
        "CPU",
        "RSS"
    );
    for w in &s.workers {
        let task = match (&w.task, &w.task_line) {
            (Some(id), Some(line)) => format!("#{id} {line} ({:.1}s)", w.task_s),
            (Some(id), None) => format!("#{id} ({:.1}s)", w.task_s),
            _ => String::new(),
        };
        let state = if w.hung { "hung?" } else { w.state.as_str() };
        // Dashes until the first sample covered the worker.
        let cpu = w.cpu.map_or("–".to_string(), |c| format!("{c:.0}%"));
        let rss = w.rss.map_or("–".to_string(), |b| {
            format!("{:.1}M", b as f64 / (1024.0 * 1024.0))
        });
        println!(
            "{:>6} {:>8} {}{:<9} {:>6} {:>6} {:>5} {:>8}  {}",
            w.id,
            w.pid,
            host_of(w),
            state,
            w.done,
            w.failed,
            cpu,
            rss,
            task
        );
    }
}

/// `pooltop wait`: blocks until the tasks finished; status 0 when all are
/// done. With `results`, prints what each shows first, as a headless run
/// does: results on stdout, failures on stderr.
pub fn wait(pool: Option<&str>, tasks: Vec<u64>, results: bool) -> Result<u8, String> {
    let mut c = Client::connect(pool)?;
    if results {
        return match c.request(&Request::WaitResults { tasks })? {
            Reply::Results {
                counts,
                shown,
                let_go,
            } => {
                print_results(&shown, let_go)?;
                pooltop::say!("pooltop: {}", counts_line(&counts));
                Ok(if counts.done == counts.submitted {
                    0
                } else {
                    1
                })
            }
            other => Err(unexpected(other)),
        };
    }
    match c.request(&Request::Wait { tasks })? {
        Reply::Waited(counts) => {
            pooltop::say!("pooltop: {}", counts_line(&counts));
            let all_done = counts.done == counts.submitted;
            Ok(if all_done { 0 } else { 1 })
        }
        other => Err(unexpected(other)),
    }
}

/// Each task's result on stdout, its own stderr and why it failed on
/// stderr, in the order asked.
fn print_results(shown: &[Shown], let_go: u64) -> Result<(), String> {
    use std::io::Write as _;
    let mut out = std::io::stdout().lock();
    for s in shown {
        let problem = s.problem_line(None);
        if problem.is_some() || !s.stderr.is_empty() {
            out.flush()
                .map_err(|e| format!("cannot write results: {e}"))?;
            let mut err = std::io::stderr().lock();
            let _ = err.write_all(s.stderr.as_bytes());
            if let Some(line) = problem {
                let _ = writeln!(err, "{line}");
            }
        }
        match out.write_all(s.stdout.as_bytes()) {
            Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => return Ok(()),
            r => r.map_err(|e| format!("cannot write results: {e}"))?,
        }
    }
    match out.flush() {
        Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => {
            return Err(format!("cannot write results: {e}"));
        }
        _ => {}
    }
    if let_go > 0 {
        pooltop::say!(
            "pooltop: the results of {let_go} task(s) are no longer kept (a pool keeps its last {} results)",
            crate::control::results::KEPT_TASKS
        );
    }
    Ok(())
}

fn counts_line(c: &Counts) -> String {
    format!(
        "{} task(s): {} done, {} failed, {} timed out, {} cancelled",
        c.submitted, c.done, c.failed, c.timed_out, c.cancelled
    )
}

/// `pooltop pause`, `resume`, `terminate`, `kill` on the selected workers.
pub fn workers(sel: WorkerSelect, verb: Verb) -> Result<u8, String> {
    let mut c = Client::connect(sel.pool.pool.as_deref())?;
    let workers = sel.workers;
    let order = match verb {
        Verb::Pause => Order::Pause { workers },
        Verb::Resume => Order::Resume { workers },
        Verb::Terminate => Order::Terminate { workers },
        Verb::Kill => Order::Kill { workers },
    };
    done(c.request(&Request::Order(order))?)
}

/// `pooltop scale`: changes the number of workers.
pub fn scale(pool: Option<&str>, workers: usize) -> Result<u8, String> {
    let mut c = Client::connect(pool)?;
    let workers = u32::try_from(workers).map_err(|_| "too many workers".to_string())?;
    done(c.request(&Request::Order(Order::Scale { workers }))?)
}

/// `pooltop cancel`: cancels tasks, queued or running.
pub fn cancel(sel: TaskSelect) -> Result<u8, String> {
    let mut c = Client::connect(sel.pool.pool.as_deref())?;
    done(c.request(&Request::Order(Order::Cancel { tasks: sel.tasks }))?)
}

/// `pooltop retry`: runs ended tasks again, or with `--failed` every failed one.
pub fn retry(pool: Option<&str>, tasks: Vec<u64>, failed: bool) -> Result<u8, String> {
    let mut c = Client::connect(pool)?;
    let order = if failed {
        Order::RetryFailed
    } else {
        Order::Retry { tasks }
    };
    done(c.request(&Request::Order(order))?)
}

/// `pooltop logs`: prints a task's output (or, with `all`, every running
/// task's, each line prefixed `#ID wN | `) so far, and with `follow` as it
/// arrives. Stdout goes to stdout and stderr to stderr.
pub fn logs(pool: Option<&str>, task: Option<u64>, follow: bool, all: bool) -> Result<u8, String> {
    use std::io::Write as _;
    let mut c = Client::connect(pool)?;
    let req = Request::Logs {
        task: if all { None } else { task },
        follow,
    };
    let mut reply = c.request(&req)?;
    let mut lines = crate::control::cli_logs::Prefixer::default();
    loop {
        match reply {
            Reply::Output {
                task,
                worker,
                stderr,
                text,
            } => {
                let shown = if all {
                    lines.push(task, worker, stderr, &text)
                } else {
                    text
                };
                let written = if stderr {
                    std::io::stderr().write_all(shown.as_bytes())
                } else {
                    let mut out = std::io::stdout().lock();
                    out.write_all(shown.as_bytes()).and_then(|()| out.flush())
                };
                // A closed pipe (`| head`) ends it quietly.
                if written.is_err() {
                    return Ok(0);
                }
            }
            Reply::Done { .. } => {
                let rest = lines.finish();
                print!("{rest}");
                return Ok(0);
            }
            other => return Err(unexpected(other)),
        }
        reply = c.next_reply()?;
    }
}

/// `pooltop front`: moves a queued task to the front of the queue.
pub fn front(pool: Option<&str>, task: u64) -> Result<u8, String> {
    let mut c = Client::connect(pool)?;
    done(c.request(&Request::Order(Order::Front { task }))?)
}

/// `pooltop stop`: shuts the pool down gracefully.
pub fn stop(pool: Option<&str>) -> Result<u8, String> {
    let mut c = Client::connect(pool)?;
    done(c.request(&Request::Order(Order::Stop))?)
}

fn done(reply: Reply) -> Result<u8, String> {
    match reply {
        Reply::Done { message } => {
            pooltop::say!("pooltop: {message}");
            Ok(0)
        }
        other => Err(unexpected(other)),
    }
}
