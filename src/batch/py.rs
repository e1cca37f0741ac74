//! `pooltop run --py MODULE:FUNCTION ::: …`: a Python function called once
//! per input, like `multiprocessing.Pool.map`. The inputs are read, combined
//! and ordered as a command template's are (one argument per input source),
//! and each job's result is printed by the session like a job's output:
//! what the function printed, then its return value as JSON on a line of
//! its own (`-k`: in input order).

use super::Job;
use super::template::Template;
use pooltop::engine::Task;
use pooltop::task::{PySpec, TaskSpec, py_arg};

/// The words of the command template that stands for `--py TARGET`:
/// `py TARGET` (what job logs and headers show), then the input sources.
/// Refuses words after the target that are not an input source.
pub fn template_words(target: &str, rest: &[String]) -> Result<Vec<String>, String> {
    if let Some(first) = rest.first()
        && first != ":::"
        && first != "::::"
    {
        return Err(format!(
            "--py {target} takes its inputs after ::: (or :::: FILE, or on standard input), got `{first}`"
        ));
    }
    let mut words = vec!["py".to_string(), target.to_string()];
    words.extend(rest.iter().cloned());
    Ok(words)
}

/// The task that calls `target` with the job's inputs, one argument per
/// input source (JSON when it parses as JSON, else a string).
pub fn task(target: &PySpec, job: &Job, template: &Template) -> Task {
    let spec = PySpec {
        module: target.module.clone(),
        function: target.function.clone(),
        args: job.args.iter().map(|a| py_arg(a)).collect(),
    };
    Task {
        spec: TaskSpec::Py(Box::new(spec)),
        line: template.command_line(&job.args, job.seq, None).into(),
    }
}

/// What a call that returned `value` prints: the function's own output
/// (`stdout`), then the value on a line of its own.
pub fn printed(stdout: &str, value: &str) -> String {
    let mut out = String::with_capacity(stdout.len() + value.len() + 1);
    out.push_str(stdout);
    if !stdout.is_empty() && !stdout.ends_with('\n') {
        out.push('\n');
    }
    out.push_str(value);
    out.push('\n');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words_tasks_and_printing() {
        let w = |rest: &[&str]| {
            let rest: Vec<String> = rest.iter().map(|s| s.to_string()).collect();
            template_words("m.py:f", &rest)
        };
        assert_eq!(
            w(&[":::", "1", "2"]).unwrap(),
            ["py", "m.py:f", ":::", "1", "2"]
        );
        assert_eq!(w(&[]).unwrap(), ["py", "m.py:f"]);
        let e = w(&["1", "2"]).unwrap_err();
        assert!(e.contains("takes its inputs after :::"), "{e}");

        let template = Template::parse(&["py".into(), "m.py:f".into()], false, 2, "sh").unwrap();
        let target = PySpec::parse("m.py:f", &[]).unwrap();
        let job = Job {
            seq: 3,
            args: vec!["a b".into(), "[1, 2]".into()],
        };
        let t = task(&target, &job, &template);
        let TaskSpec::Py(spec) = &t.spec else {
            panic!("{:?}", t.spec)
        };
        assert_eq!(spec.args, [r#""a b""#, "[1, 2]"]);
        assert_eq!(&*t.line, "py m.py:f 'a b' '[1, 2]'");

        assert_eq!(printed("", "49"), "49\n");
        assert_eq!(printed("hi", "[1]"), "hi\n[1]\n");
    }
}
