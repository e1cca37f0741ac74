//! What the control server answers each request, apart from how the bytes
//! travel (that is the connection's): the handshake, status, submissions,
//! orders, waits and subscriptions. Nothing here blocks: a wait is a
//! question asked again whenever the pool's picture changes.

use std::sync::mpsc::{self, Receiver};

use super::orders::commands_for;
use super::view::Shared;
use super::wire::{CONTROL_VERSION, PoolSummary, Reply, Request};
use crate::report::outputs::{FileLine, SharedClaims};
use crate::report::results::Shown;
use pooltop::engine::{Command, PoolEvent, PoolHandle, Task};
use pooltop::task::parse_lines;

pub use super::limits::SUBSCRIBER_BACKLOG;

/// The pool as the request handlers see it: its name and title, its handle
/// for orders and submissions, and the view its events keep up to date.
pub struct Answers {
    pub name: String,
    pub title: String,
    pub pool: PoolHandle,
    pub view: Shared,
    /// The output files the run's tasks write (a submission may not write
    /// one of them again).
    pub claims: SharedClaims,
}

/// What a request leads to.
pub enum Answer {
    /// Write this reply; then (and only then: the process may end as soon
    /// as the pool has stopped) give the pool these orders.
    Reply(Reply, Vec<Command>),
    /// The hello was accepted: write this welcome; the client is greeted.
    Welcome(Reply),
    /// Answer once these tasks finished (ask [`Answers::waited`] again as
    /// the pool's picture changes).
    Wait(Wait),
    /// Stream the pool's events on this connection from now on.
    Subscribe,
    /// Print a task's output (`pooltop logs`): the connection is handed to
    /// a thread of its own, which writes until the output ends.
    Logs { task: Option<u64>, follow: bool },
}

/// A client waiting for tasks to finish.
#[derive(Debug)]
pub struct Wait {
    /// The awaited ids; none means all tasks submitted when the wait began.
    tasks: Vec<u64>,
    /// How many ids the pool had given out when the wait began.
    allocated: u64,
    /// `wait --results`: answer with what each task shows, not only counts.
    results: bool,
}

/// An attached dashboard's stream: the replay that rebuilds the pool's
/// picture, then the live events (the view drops the sender of a stream
/// that falls [`SUBSCRIBER_BACKLOG`] events behind).
pub struct Subscription {
    pub hello: Reply,
    pub replay: std::vec::IntoIter<PoolEvent>,
    pub events: Receiver<PoolEvent>,
}

impl Answers {
    /// Answers one request of a client that has (`greeted`) or has not yet
    /// said hello.
    pub fn answer(&self, greeted: bool, req: Request) -> Answer {
        let reply = |r| Answer::Reply(r, Vec::new());
        let error = |message: String| reply(Reply::Error { message });
        match (greeted, req) {
            (false, Request::Hello { version }) if version == CONTROL_VERSION => {
                Answer::Welcome(Reply::Welcome {
                    name: self.name.clone(),
                    pid: std::process::id(),
                })
            }
            (false, Request::Hello { version }) => error(format!(
                "control protocol {version} is not spoken here (this pool speaks {CONTROL_VERSION})"
            )),
            (false, _) => error("say hello first".into()),
            (true, Request::Hello { .. }) => error("already greeted".into()),
            (true, Request::Order(order)) => match commands_for(order, &self.name) {
                Ok((commands, message)) => Answer::Reply(Reply::Done { message }, commands),
                Err(message) => error(message),
            },
            (true, Request::Status) => {
                let (view, _) = &*self.view;
                let v = view.lock().unwrap_or_else(|p| p.into_inner());
                reply(Reply::Status(v.status(std::process::id())))
            }
            (true, Request::Submit { lines }) => reply(self.submit(lines)),
            (true, Request::Wait { tasks }) => self.wait(tasks, false),
            (true, Request::WaitResults { tasks }) => self.wait(tasks, true),
            (true, Request::Subscribe) => Answer::Subscribe,
            (true, Request::Logs { task, follow }) => Answer::Logs { task, follow },
        }
    }

    fn wait(&self, tasks: Vec<u64>, results: bool) -> Answer {
        let allocated = self.pool.tasks_allocated();
        match tasks.iter().find(|&&t| t == 0 || t > allocated) {
            Some(bad) => Answer::Reply(
                Reply::Error {
                    message: format!("no task {bad} in this pool (ids 1 to {allocated})"),
                },
                Vec::new(),
            ),
            None => Answer::Wait(Wait {
                tasks,
                allocated,
                results,
            }),
        }
    }

    fn submit(&self, lines: Vec<String>) -> Reply {
        match parse_lines(&lines.join("\n")) {
            Err(errors) => Reply::Refused {
                errors: errors.iter().map(|e| e.to_string()).collect(),
            },
            Ok(parsed) => {
                // Line numbers are the submission's (a submitted file's own).
                let origins = parsed
                    .iter()
                    .map(|l| (&l.spec, FileLine("<submit>", l.line_no)));
                let tasks = parsed.iter().map(|l| Task {
                    spec: l.spec.clone(),
                    line: l.text.as_str().into(),
                });
                match self
                    .claims
                    .claim_then_submit(origins, || self.pool.submit_all(tasks))
                {
                    Ok(ids) => Reply::Submitted {
                        ids: ids.iter().map(|t| t.0).collect(),
                    },
                    Err(errors) => Reply::Refused { errors },
                }
            }
        }
    }

    /// The answer to a wait, or none while the tasks are still unfinished.
    pub fn waited(&self, wait: &Wait) -> Option<Reply> {
        let (view, _) = &*self.view;
        let v = view.lock().unwrap_or_else(|p| p.into_inner());
        let outcome = if wait.tasks.is_empty() {
            (v.all_finished() && v.counts().submitted >= wait.allocated).then(|| v.counts())
        } else {
            v.outcome_of(&wait.tasks)
        };
        match outcome {
            Some(counts) if wait.results => {
                // What each awaited task shows (all tasks submitted when
                // the wait began, when none were named), as far as the
                // view keeps it.
                let ids: Vec<u64> = if wait.tasks.is_empty() {
                    (1..=wait.allocated).collect()
                } else {
                    wait.tasks.clone()
                };
                let shown: Vec<Shown> = ids.iter().filter_map(|&id| v.result_of(id)).collect();
                let let_go = (ids.len() - shown.len()) as u64;
                Some(Reply::Results {
                    counts,
                    shown,
                    let_go,
                })
            }
            Some(c) => Some(Reply::Waited(c)),
            None if v.stopped => Some(Reply::Error {
                message: "the pool stopped before those tasks finished".into(),
            }),
            None => None,
        }
    }

    /// Attaches a dashboard: its first reply, the replay and the live events.
    pub fn subscribe(&self) -> Subscription {
        let (tx, events) = mpsc::sync_channel(SUBSCRIBER_BACKLOG);
        let replay = {
            let (view, _) = &*self.view;
            let mut v = view.lock().unwrap_or_else(|p| p.into_inner());
            v.subscribe(tx)
        };
        let cfg = self.pool.config();
        let hello = Reply::Subscribed {
            config: PoolSummary {
                workers: cfg.workers as u32,
                join_timeout_s: cfg.join_timeout.as_secs_f64(),
                task_timeout_s: cfg.task_timeout.map(|d| d.as_secs_f64()),
                title: self.title.clone(),
            },
        };
        Subscription {
            hello,
            replay: replay.into_iter(),
            events,
        }
    }
}
