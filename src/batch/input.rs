//! The inputs of a command batch: from standard input, `::: a b c` or
//! `:::: FILE` (and `-a FILE`), one record per line (or per NUL byte with
//! `-0`). Several sources combine as in GNU parallel: every combination, the
//! first source varying slowest. Pure, unit-tested; reading is the caller's.

use std::fmt;

/// Where one input source comes from, as written on the command line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    /// `::: a b c`: the arguments themselves.
    Args(Vec<String>),
    /// `:::: FILE` or `-a FILE` (`-` is standard input): one record per line.
    File(String),
}

/// The command words and input sources of `CMD [ARGS…] [::: ARGS…] [:::: FILES…]`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct CommandAndSources {
    pub command: Vec<String>,
    pub sources: Vec<Source>,
}

/// Why the inputs cannot be used.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InputError(pub String);

impl fmt::Display for InputError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Splits the words after `--` at the first `:::` or `::::`: the command
/// before, then the sources. `::: a b` is one source of arguments; after
/// `::::` each file is a source of its own.
pub fn split_command(words: &[String]) -> Result<CommandAndSources, InputError> {
    let first = words.iter().position(|w| w == ":::" || w == "::::");
    let Some(first) = first else {
        return Ok(CommandAndSources {
            command: words.to_vec(),
            sources: Vec::new(),
        });
    };
    let mut sources = Vec::new();
    let mut mode = "";
    for w in &words[first..] {
        match w.as_str() {
            ":::" => {
                mode = ":::";
                sources.push(Source::Args(Vec::new()));
            }
            "::::" => mode = "::::",
            _ if mode == ":::" => match sources.last_mut() {
                Some(Source::Args(a)) => a.push(w.clone()),
                _ => unreachable!("::: pushed an Args source"),
            },
            _ => sources.push(Source::File(w.clone())),
        }
    }
    if words[first..].last().is_some_and(|w| w == "::::") {
        return Err(InputError("`::::` needs at least one file".into()));
    }
    Ok(CommandAndSources {
        command: words[..first].to_vec(),
        sources,
    })
}

/// Splits the bytes of an input file into records: lines (a last line
/// without a newline counts), or NUL-terminated records with `null`. Each
/// must be UTF-8 and, without `null`, hold no NUL byte (no command can take
/// one as an argument, so it would only fail once the job runs); `name`
/// names the file in errors.
pub fn records(bytes: &[u8], null: bool, name: &str) -> Result<Vec<String>, InputError> {
    let sep = if null { b'\0' } else { b'\n' };
    let body = bytes.strip_suffix(&[sep]).unwrap_or(bytes);
    if bytes.is_empty() {
        return Ok(Vec::new());
    }
    body.split(|&b| b == sep)
        .enumerate()
        .map(|(i, rec)| {
            if rec.contains(&b'\0') {
                return Err(InputError(format!(
                    "{name}: input {} contains a NUL byte; pooltop's inputs must be text (with -0 NUL separates them)",
                    i + 1
                )));
            }
            String::from_utf8(rec.to_vec()).map_err(|_| {
                InputError(format!(
                    "{name}: input {} is not valid UTF-8; pooltop's inputs must be UTF-8 text",
                    i + 1
                ))
            })
        })
        .collect()
}

/// Every combination of one value from each source, the first source
/// varying slowest: `[a b] × [1 2]` → `a 1, a 2, b 1, b 2`. No source, or an
/// empty one, gives no jobs.
pub fn combinations(sources: &[Vec<String>]) -> Vec<Vec<String>> {
    if sources.is_empty() || sources.iter().any(Vec::is_empty) {
        return Vec::new();
    }
    let total: usize = sources.iter().map(Vec::len).product();
    let mut jobs = Vec::with_capacity(total);
    let mut idx = vec![0usize; sources.len()];
    loop {
        jobs.push(
            idx.iter()
                .zip(sources)
                .map(|(&i, s)| s[i].clone())
                .collect(),
        );
        // Odometer: the last source turns fastest.
        let mut k = sources.len();
        loop {
            if k == 0 {
                return jobs;
            }
            k -= 1;
            idx[k] += 1;
            if idx[k] < sources[k].len() {
                break;
            }
            idx[k] = 0;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn w(words: &[&str]) -> Vec<String> {
        words.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn splits_the_command_from_its_sources() {
        let c = split_command(&w(&["echo", "{}", ":::", "a", "b", ":::", "1"])).unwrap();
        assert_eq!(c.command, w(&["echo", "{}"]));
        assert_eq!(
            c.sources,
            [Source::Args(w(&["a", "b"])), Source::Args(w(&["1"]))]
        );
        let c = split_command(&w(&["gzip", "::::", "f1", "f2", ":::", "x"])).unwrap();
        assert_eq!(c.command, w(&["gzip"]));
        assert_eq!(
            c.sources,
            [
                Source::File("f1".into()),
                Source::File("f2".into()),
                Source::Args(w(&["x"]))
            ]
        );
        let c = split_command(&w(&["wc", "-l"])).unwrap();
        assert!(c.sources.is_empty());
        let c = split_command(&w(&[":::", "echo a"])).unwrap();
        assert!(c.command.is_empty());
        assert!(split_command(&w(&["x", "::::"])).is_err());
    }

    #[test]
    fn records_are_lines_or_nul_terminated() {
        assert_eq!(
            records(b"a\n\nb c\n", false, "x").unwrap(),
            ["a", "", "b c"]
        );
        assert_eq!(records(b"last", false, "x").unwrap(), ["last"]);
        assert_eq!(records(b"", false, "x").unwrap(), Vec::<String>::new());
        assert_eq!(records(b"\n", false, "x").unwrap(), [""]);
        assert_eq!(records(b"a\r\n", false, "x").unwrap(), ["a\r"]);
        assert_eq!(
            records(b"new\nline\0two\0", true, "x").unwrap(),
            ["new\nline", "two"]
        );
        let e = records(b"ok\nbad\xff\n", false, "list.txt").unwrap_err();
        assert!(
            e.0.starts_with("list.txt: input 2 is not valid UTF-8"),
            "{e}"
        );
        let e = records(b"ok\nfine\nn\0ul\n", false, "<stdin>").unwrap_err();
        assert!(
            e.0.starts_with("<stdin>: input 3 contains a NUL byte"),
            "{e}"
        );
    }

    #[test]
    fn combinations_vary_the_last_source_fastest() {
        let jobs = combinations(&[w(&["a", "b"]), w(&["1", "2", "3"])]);
        let flat: Vec<String> = jobs.iter().map(|j| j.join(" ")).collect();
        assert_eq!(flat, ["a 1", "a 2", "a 3", "b 1", "b 2", "b 3"]);
        assert_eq!(combinations(&[w(&["x"])]), [w(&["x"])]);
        assert!(combinations(&[w(&["x"]), vec![]]).is_empty());
        assert!(combinations(&[]).is_empty());
    }
}
