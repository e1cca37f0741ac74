//! Command templates: `pooltop run -- CMD [ARGS…]` with GNU parallel's
//! replacement strings, expanded once per job. Pure, unit-tested.
//!
//! As in parallel, the command words are joined with spaces into one shell
//! command line, and each replacement string becomes its value *quoted for the
//! shell* — so an input with spaces, quotes or `$` stays one argument and is
//! never expanded. When the command has no replacement string, the inputs are
//! appended as the last arguments. [`Template::command_line`] is that command
//! line, byte for byte what parallel would run (and what its `--dry-run` and
//! `--joblog` show).
//!
//! A command line that needs no shell (its own text has no shell syntax; only
//! the quoted inputs do) is run directly: [`Template::exec_spec`] builds the
//! argument vector that the shell would have built, without starting one.

use std::borrow::Cow;
use std::fmt;

use pooltop::task::ExecSpec;

/// Environment variable with the job's sequence number, as parallel sets it.
pub const ENV_SEQ: &str = "PARALLEL_SEQ";
/// Environment variable with the job's slot, as parallel sets it.
pub const ENV_JOBSLOT: &str = "PARALLEL_JOBSLOT";

/// What a replacement string takes from an input.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    /// `{}`: the input.
    Whole,
    /// `{.}`: without its extension.
    NoExt,
    /// `{/}`: its basename.
    Base,
    /// `{//}`: its dirname.
    Dir,
    /// `{/.}`: its basename without extension.
    BaseNoExt,
    /// `{#}`: the job's sequence number.
    Seq,
    /// `{%}`: the job's slot.
    Slot,
}

/// A replacement string: what it takes, and from which input source
/// (`None`: all of them, space-separated; `Some(i)`: source i, 0-based).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Repl {
    kind: Kind,
    source: Option<usize>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Part {
    /// Shell text, copied as it is.
    Lit(String),
    Repl(Repl),
}

/// Why a command template cannot be used.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TemplateError(pub String);

impl fmt::Display for TemplateError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A parsed command template.
#[derive(Debug, Clone)]
pub struct Template {
    /// The template as shown to the user (words joined with spaces).
    shown: String,
    /// The command line, cut into shell text and replacement strings; with
    /// no replacement string in the command, ` {}` has been appended.
    parts: Vec<Part>,
    /// The words of a command line that needs no shell, each cut into parts.
    direct: Option<Vec<Vec<Part>>>,
    /// No command at all: each input is a command line of its own.
    inputs_are_commands: bool,
    /// The shell for command lines that need one.
    shell: String,
}

/// Words that a shell treats specially at the start of a command, and
/// builtins that exist only inside a shell: a command starting with one of
/// them needs `sh`.
const SHELL_WORDS: &[&str] = &[
    "!", "{", "}", "[[", "]]", "case", "do", "done", "elif", "else", "esac", "fi", "for",
    "function", "if", "in", "select", "then", "time", "until", "while", ".", ":", "alias", "bg",
    "break", "builtin", "cd", "command", "continue", "declare", "eval", "exec", "exit", "export",
    "fc", "fg", "getopts", "hash", "jobs", "let", "local", "logout", "popd", "pushd", "read",
    "readonly", "return", "set", "shift", "source", "suspend", "times", "trap", "type", "typeset",
    "ulimit", "umask", "unalias", "unset", "wait",
];

/// Characters that mean something to a POSIX shell (or to bash) anywhere in
/// a word, besides the blanks that separate words. Conservative: a command
/// with any of them goes through the shell.
fn is_shell_char(c: char) -> bool {
    matches!(
        c,
        '|' | '&'
            | ';'
            | '<'
            | '>'
            | '('
            | ')'
            | '$'
            | '`'
            | '\\'
            | '"'
            | '\''
            | '*'
            | '?'
            | '['
            | ']'
            | '#'
            | '~'
            | '{'
            | '}'
            | '!'
    ) || (c.is_control() && c != ' ' && c != '\t')
}

impl Template {
    /// Parses the command words given after `--`.
    ///
    /// `quote` is parallel's `-q`: each word is quoted, so the command is
    /// taken literally (no shell syntax) and the replacement strings still
    /// work. `sources` is the number of input sources (for `{n}`); `shell`
    /// runs command lines that need a shell.
    pub fn parse(
        words: &[String],
        quote: bool,
        sources: usize,
        shell: &str,
    ) -> Result<Template, TemplateError> {
        let shown = words.join(" ");
        let raw_words = words
            .iter()
            .map(|w| parse_word(w, sources))
            .collect::<Result<Vec<Vec<Part>>, _>>()?;
        // The command line: the words joined with single spaces; with -q,
        // each literal piece quoted on its own, which keeps a word one word.
        let mut parts: Vec<Part> = Vec::new();
        for (i, w) in raw_words.iter().enumerate() {
            if i > 0 {
                push_lit(&mut parts, " ");
            }
            for p in w {
                match p {
                    Part::Lit(s) if quote => push_lit(&mut parts, &quote_arg(s)),
                    Part::Lit(s) => push_lit(&mut parts, s),
                    r => parts.push(r.clone()),
                }
            }
        }
        let has_repl = parts.iter().any(|p| matches!(p, Part::Repl(_)));
        let inputs_are_commands = words.is_empty();
        let appended = Part::Repl(Repl {
            kind: Kind::Whole,
            source: None,
        });
        if !has_repl && !inputs_are_commands {
            push_lit(&mut parts, " ");
            parts.push(appended.clone());
        }
        let direct = if inputs_are_commands {
            None
        } else if quote {
            // Quoted words are literal: they are the argument vector.
            let mut words = raw_words;
            if !has_repl {
                words.push(vec![appended]);
            }
            Some(words)
        } else {
            direct_words(&parts)
        };
        Ok(Template {
            shown,
            parts,
            direct,
            inputs_are_commands,
            shell: shell.to_string(),
        })
    }

    /// The template as the user wrote it.
    pub fn shown(&self) -> &str {
        &self.shown
    }

    /// Whether jobs run without a shell.
    pub fn is_direct(&self) -> bool {
        self.direct.is_some()
    }

    /// Whether the command uses the job slot `{%}`.
    pub fn uses_slot(&self) -> bool {
        self.parts
            .iter()
            .any(|p| matches!(p, Part::Repl(r) if r.kind == Kind::Slot))
    }

    /// The shell command line of a job: the command with every replacement
    /// string replaced by its quoted value. With no `slot` (not known yet),
    /// `{%}` stays as it is.
    pub fn command_line(&self, args: &[String], seq: u64, slot: Option<u32>) -> String {
        if self.inputs_are_commands {
            return args.join(" ");
        }
        let mut out = String::new();
        for p in &self.parts {
            match p {
                Part::Lit(s) => out.push_str(s),
                Part::Repl(r) => match (r.kind, slot) {
                    (Kind::Slot, None) => out.push_str("{%}"),
                    _ => {
                        let values = values(r, args, seq, slot.unwrap_or(0));
                        for (i, v) in values.iter().enumerate() {
                            if i > 0 {
                                out.push(' ');
                            }
                            out.push_str(&quote_arg(v));
                        }
                    }
                },
            }
        }
        out
    }

    /// What a worker runs for this job: the argument vector directly when
    /// the command needs no shell, else the command line through the shell.
    /// The job slot is filled in by the worker (see [`ExecSpec::slot_at`]).
    pub fn exec_spec(&self, args: &[String], seq: u64) -> ExecSpec {
        let env = vec![(ENV_SEQ.to_string(), seq.to_string())];
        let slot_env = Some(ENV_JOBSLOT.to_string());
        let Some(words) = &self.direct else {
            // Through the shell: the slot goes into the command line text.
            let mut text = String::new();
            let mut slot_at = Vec::new();
            if self.inputs_are_commands {
                text = args.join(" ");
            } else {
                for p in &self.parts {
                    match p {
                        Part::Lit(s) => text.push_str(s),
                        Part::Repl(r) if r.kind == Kind::Slot => {
                            slot_at.push((3, text.len() as u32));
                        }
                        Part::Repl(r) => {
                            for (i, v) in values(r, args, seq, 0).iter().enumerate() {
                                if i > 0 {
                                    text.push(' ');
                                }
                                text.push_str(&quote_arg(v));
                            }
                        }
                    }
                }
            }
            return ExecSpec {
                argv: vec![self.shell.clone(), "-c".into(), "--".into(), text],
                env,
                slot_at,
                slot_env,
            };
        };
        let mut argv: Vec<String> = Vec::new();
        let mut slot_at = Vec::new();
        for word in words {
            let mut cur = String::new();
            for p in word {
                match p {
                    Part::Lit(s) => cur.push_str(s),
                    Part::Repl(r) if r.kind == Kind::Slot => {
                        slot_at.push((argv.len() as u32, cur.len() as u32));
                    }
                    Part::Repl(r) => {
                        // Several values are several words, as the shell
                        // would split `x'a' 'b'y` into `xa` and `by`.
                        for (i, v) in values(r, args, seq, 0).iter().enumerate() {
                            if i > 0 {
                                argv.push(std::mem::take(&mut cur));
                            }
                            cur.push_str(v);
                        }
                    }
                }
            }
            argv.push(cur);
        }
        ExecSpec {
            argv,
            env,
            slot_at,
            slot_env,
        }
    }
}

/// Appends shell text, merging it with a literal before it.
fn push_lit(parts: &mut Vec<Part>, s: &str) {
    if let Some(Part::Lit(last)) = parts.last_mut() {
        last.push_str(s);
    } else if !s.is_empty() {
        parts.push(Part::Lit(s.to_string()));
    }
}

/// Cuts one command word into literal text and replacement strings.
fn parse_word(word: &str, sources: usize) -> Result<Vec<Part>, TemplateError> {
    let mut parts = Vec::new();
    let mut lit = String::new();
    let mut rest = word;
    while let Some(open) = rest.find('{') {
        lit.push_str(&rest[..open]);
        let after = &rest[open..];
        if after.starts_with("{=") && after[2..].contains("=}") {
            return Err(TemplateError(format!(
                "`{word}`: perl expressions {{= … =}} are not supported"
            )));
        }
        match after.find('}').and_then(|close| {
            let inner = &after[1..close];
            parse_repl(inner, sources).map(|r| (r, close))
        }) {
            Some((Ok(repl), close)) => {
                if !lit.is_empty() {
                    parts.push(Part::Lit(std::mem::take(&mut lit)));
                }
                parts.push(Part::Repl(repl));
                rest = &after[close + 1..];
            }
            Some((Err(e), _)) => return Err(e),
            None => {
                lit.push('{');
                rest = &after[1..];
            }
        }
    }
    lit.push_str(rest);
    if !lit.is_empty() {
        parts.push(Part::Lit(lit));
    }
    Ok(parts)
}

/// The replacement string with this text between its braces, if it is one:
/// `` (empty), `.`, `/`, `//`, `/.`, `#`, `%`, or a source number followed by
/// one of the first five.
fn parse_repl(inner: &str, sources: usize) -> Option<Result<Repl, TemplateError>> {
    let kind_of = |s: &str| match s {
        "" => Some(Kind::Whole),
        "." => Some(Kind::NoExt),
        "/" => Some(Kind::Base),
        "//" => Some(Kind::Dir),
        "/." => Some(Kind::BaseNoExt),
        _ => None,
    };
    match inner {
        "#" => {
            return Some(Ok(Repl {
                kind: Kind::Seq,
                source: None,
            }));
        }
        "%" => {
            return Some(Ok(Repl {
                kind: Kind::Slot,
                source: None,
            }));
        }
        _ => {}
    }
    if let Some(kind) = kind_of(inner) {
        return Some(Ok(Repl { kind, source: None }));
    }
    let digits = inner.len() - inner.trim_start_matches(|c: char| c.is_ascii_digit()).len();
    if digits == 0 {
        return None;
    }
    let kind = kind_of(&inner[digits..])?;
    let n: usize = inner[..digits].parse().ok()?;
    if n == 0 || n > sources {
        return Some(Err(TemplateError(format!(
            "{{{inner}}} refers to input source {n}, but there {}",
            match sources {
                1 => "is 1".to_string(),
                s => format!("are {s}"),
            }
        ))));
    }
    Some(Ok(Repl {
        kind,
        source: Some(n - 1),
    }))
}

/// The words of a command line that a shell would run without doing anything
/// but splitting it at blanks, or none when it needs a shell.
fn direct_words(parts: &[Part]) -> Option<Vec<Vec<Part>>> {
    let mut words: Vec<Vec<Part>> = vec![Vec::new()];
    for p in parts {
        match p {
            Part::Lit(s) => {
                if s.chars().any(is_shell_char) {
                    return None;
                }
                for (i, piece) in s.split([' ', '\t']).enumerate() {
                    if i > 0 && !words.last()?.is_empty() {
                        words.push(Vec::new());
                    }
                    if !piece.is_empty() {
                        words.last_mut()?.push(Part::Lit(piece.to_string()));
                    }
                }
            }
            Part::Repl(_) => words.last_mut()?.push(p.clone()),
        }
    }
    if words.last().is_some_and(Vec::is_empty) {
        words.pop();
    }
    // `NAME=value cmd` is an assignment, and keywords and builtins exist
    // only in a shell.
    match words.first()?.first()? {
        Part::Lit(w) if w.contains('=') => None,
        Part::Lit(w) if words[0].len() == 1 && SHELL_WORDS.contains(&w.as_str()) => None,
        _ => Some(words),
    }
}

/// The values a replacement string stands for in one job.
fn values(r: &Repl, args: &[String], seq: u64, slot: u32) -> Vec<String> {
    let pick: Vec<&String> = match r.source {
        Some(i) => args.get(i).into_iter().collect(),
        None => args.iter().collect(),
    };
    match r.kind {
        Kind::Seq => vec![seq.to_string()],
        Kind::Slot => vec![slot.to_string()],
        Kind::Whole => pick.into_iter().cloned().collect(),
        Kind::NoExt => pick.into_iter().map(|a| no_ext(a).to_string()).collect(),
        Kind::Base => pick.into_iter().map(|a| basename(a).into_owned()).collect(),
        Kind::Dir => pick.into_iter().map(|a| dirname(a)).collect(),
        Kind::BaseNoExt => pick
            .into_iter()
            .map(|a| no_ext(&basename(a)).to_string())
            .collect(),
    }
}

/// Quotes a value for a POSIX shell exactly as GNU parallel does: as it is
/// when made only of `-_.+/`, ASCII letters and digits, else inside single
/// quotes (a `'` becomes `'"'"'`); the empty string is `''`.
pub fn quote_arg(s: &str) -> Cow<'_, str> {
    if s.is_empty() {
        return Cow::Borrowed("''");
    }
    let plain = |c: char| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | '+' | '/');
    if s.chars().all(plain) {
        return Cow::Borrowed(s);
    }
    let inner = s.replace('\'', "'\"'\"'");
    let mut q = format!("'{inner}'");
    // parallel drops the empty '' left at either end by a leading or
    // trailing quote.
    if let Some(rest) = q.strip_prefix("''") {
        q = rest.to_string();
    }
    if let Some(rest) = q.strip_suffix("''") {
        q = rest.to_string();
    }
    Cow::Owned(q)
}

/// `{.}`: the input without its extension — parallel's `s:\.[^/.]*$::`.
/// The last `.` goes with what follows it, unless a `/` follows it.
pub fn no_ext(s: &str) -> &str {
    match s.rfind('.') {
        Some(i) if !s[i..].contains('/') => &s[..i],
        _ => s,
    }
}

/// `{/}`: the basename — parallel's `s:.*/::` (Perl's `.` stops at a newline,
/// so only the first line that has a `/` is cut, up to its last `/`).
pub fn basename(s: &str) -> Cow<'_, str> {
    let mut start = 0;
    for line in s.split_inclusive('\n') {
        let body = line.strip_suffix('\n').unwrap_or(line);
        if let Some(slash) = body.rfind('/') {
            if start == 0 {
                return Cow::Borrowed(&s[slash + 1..]);
            }
            let mut out = s[..start].to_string();
            out.push_str(&s[start + slash + 1..]);
            return Cow::Owned(out);
        }
        start += line.len();
    }
    Cow::Borrowed(s)
}

/// `{//}`: the dirname, as Perl's `File::Basename::dirname` gives it (which
/// parallel uses): `a/b` → `a`, `file` → `.`, `/x` → `/`, `a/b/` → `a`.
pub fn dirname(s: &str) -> String {
    fn fileparse(p: &str) -> (&str, &str) {
        match p.rfind('/') {
            Some(i) => (&p[..=i], &p[i + 1..]),
            None => ("./", p),
        }
    }
    /// `s{(.)/*\z}{$1}s`: trailing slashes go, but not the first character.
    fn strip_trailing_sep(d: &str) -> &str {
        let trimmed = d.trim_end_matches('/');
        if trimmed.is_empty() {
            &d[..d.len().min(1)]
        } else {
            trimmed
        }
    }
    let (dir, base) = fileparse(s);
    let mut dir = strip_trailing_sep(dir);
    if base.is_empty() {
        dir = strip_trailing_sep(fileparse(dir).0);
    }
    dir.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(words: &[&str]) -> Template {
        let words: Vec<String> = words.iter().map(|w| w.to_string()).collect();
        Template::parse(&words, false, 1, "sh").unwrap()
    }

    fn args(a: &[&str]) -> Vec<String> {
        a.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn quotes_like_parallel() {
        for (raw, want) in [
            ("plain-file_1.txt", "plain-file_1.txt"),
            ("a/b+c", "a/b+c"),
            ("", "''"),
            ("a b", "'a b'"),
            ("it's", "'it'\"'\"'s'"),
            ("'lead", "\"'\"'lead'"),
            ("trail'", "'trail'\"'\""),
            ("$HOME", "'$HOME'"),
            ("é.txt", "'é.txt'"),
            ("a\nb", "'a\nb'"),
        ] {
            assert_eq!(quote_arg(raw), want, "{raw:?}");
            if !raw.is_empty() {
                assert_eq!(shell_words::split(&quote_arg(raw)).unwrap(), [raw]);
            }
        }
    }

    #[test]
    fn path_pieces_match_parallel() {
        // (input, {//}, {/}, {.}, {/.}) as GNU parallel 20221122 gives them.
        for (input, dir, base, noext, basenoext) in [
            ("a/b.c/d", "a/b.c", "d", "a/b.c/d", "d"),
            ("x.tar.gz", ".", "x.tar.gz", "x.tar", "x.tar"),
            (".hidden", ".", ".hidden", "", ""),
            ("dir/", ".", "", "dir/", ""),
            ("/", "/", "", "/", ""),
            ("", ".", "", "", ""),
            ("file.", ".", "file.", "file", "file"),
            ("a//b", "a", "b", "a//b", "b"),
            ("/abs/f.txt", "/abs", "f.txt", "/abs/f", "f"),
            ("//x", "/", "x", "//x", "x"),
            ("d.d/noext", "d.d", "noext", "d.d/noext", "noext"),
        ] {
            assert_eq!(dirname(input), dir, "{{//}} of {input:?}");
            assert_eq!(basename(input), base, "{{/}} of {input:?}");
            assert_eq!(no_ext(input), noext, "{{.}} of {input:?}");
            assert_eq!(no_ext(&basename(input)), basenoext, "{{/.}} of {input:?}");
        }
        // Perl's `.` stops at a newline: only the first line with a `/` is cut.
        assert_eq!(basename("a/b\nc/d"), "b\nc/d");
        assert_eq!(basename("x\nc/d"), "x\nd");
    }

    #[test]
    fn command_lines_match_parallel_dry_run() {
        let a = args(&["a b"]);
        assert_eq!(t(&["echo"]).command_line(&a, 1, None), "echo 'a b'");
        assert_eq!(
            t(&["echo", "{}", "{#}", "{%}"]).command_line(&a, 3, Some(2)),
            "echo 'a b' 3 2"
        );
        assert_eq!(
            t(&["echo", "{%}"]).command_line(&a, 3, None),
            "echo {%}",
            "the slot is not known before the job runs"
        );
        assert_eq!(
            t(&["echo", "x{}y"]).command_line(&a, 1, None),
            "echo x'a b'y"
        );
        assert_eq!(
            t(&["echo {} | wc"]).command_line(&a, 1, None),
            "echo 'a b' | wc"
        );
        let two = args(&["a.x", "c.z"]);
        let words: Vec<String> = ["echo", "{.}", "{1.}", "{/}", "{2}"]
            .map(String::from)
            .to_vec();
        let tpl = Template::parse(&words, false, 2, "sh").unwrap();
        assert_eq!(tpl.command_line(&two, 1, None), "echo a c a a.x c.z c.z");
        let quoted = Template::parse(&args(&["echo", "a b", "{}"]), true, 1, "sh").unwrap();
        assert_eq!(
            quoted.command_line(&args(&["c d"]), 1, None),
            "echo 'a b' 'c d'"
        );
        // Not replacement strings: left alone.
        assert_eq!(
            t(&["echo", "{x}", "{1", "}{"]).command_line(&a, 1, None),
            "echo {x} {1 }{ 'a b'"
        );
    }

    #[test]
    fn bad_templates_are_refused_with_reasons() {
        let words = args(&["echo", "{3}"]);
        let e = Template::parse(&words, false, 1, "sh").unwrap_err();
        assert!(e.0.contains("input source 3"), "{e}");
        let words = args(&["echo", "{= $_ =}"]);
        let e = Template::parse(&words, false, 1, "sh").unwrap_err();
        assert!(e.0.contains("not supported"), "{e}");
    }

    #[test]
    fn simple_commands_run_without_a_shell() {
        let direct = [
            &["true"][..],
            &["echo", "{}"],
            &["gzip", "-9", "--", "{}"],
            &["convert", "{}", "-resize", "50%", "out/{/.}.png"],
            &["dd", "if={}", "of=x"],
            &["printf", "%s,%s:", "{#}", "{%}"],
        ];
        for words in direct {
            assert!(t(words).is_direct(), "{words:?} should run directly");
        }
        let shell = [
            &["echo {} | wc -c"][..],
            &["echo", "$HOME"],
            &["ls", "*.txt"],
            &["cd", "/tmp"],
            &["FOO=1", "env"],
            &["echo", "a;", "b"],
            &["echo", "'q'"],
            &["echo", "~"],
            &["printf", "%s\\n", "{}"],
            &["ls", "[ab]"],
            &["if", "true;", "then", "x;", "fi"],
        ];
        for words in shell {
            assert!(!t(words).is_direct(), "{words:?} needs a shell");
        }
        let spec = t(&["echo {} | wc -c"]).exec_spec(&args(&["it's"]), 4);
        assert_eq!(spec.argv, ["sh", "-c", "--", "echo 'it'\"'\"'s' | wc -c"]);
        assert_eq!(spec.env, [("PARALLEL_SEQ".into(), "4".into())]);
    }

    /// The argument vector built without a shell is the one a shell makes of
    /// the command line, for every replacement string and awkward input.
    #[test]
    fn direct_argv_equals_the_shell_split_of_the_command_line() {
        let inputs = [
            "plain",
            "with space",
            "it's",
            "\"dq\"",
            "$HOME",
            "back\\slash",
            "dots.in.name.txt",
            "noext",
            "nested/dir/file.tar.gz",
            "/abs/x",
            "trailing/",
            "unicodé ü/名前.txt",
            "",
            "-dash",
            "new\nline",
            "tab\there",
        ];
        let templates: [&[&str]; 6] = [
            &["echo", "{}", "{.}", "{/}", "{//}", "{/.}", "{#}", "{%}"],
            &["printf", "=%s:", "pre{}post", "{/.}.out", "n{#}-{%}"],
            &["cmd"],
            &["x", "{1}", "{2/}", "{}"],
            &["y", "a{}b"],
            &["z", "--opt={}", "{2.}"],
        ];
        for words in templates {
            let words: Vec<String> = words.iter().map(|w| w.to_string()).collect();
            let tpl = Template::parse(&words, false, 2, "sh").unwrap();
            assert!(tpl.is_direct(), "{words:?}");
            for (i, a) in inputs.iter().enumerate() {
                let b = inputs[(i * 7 + 3) % inputs.len()];
                let job = args(&[a, b]);
                let line = tpl.command_line(&job, 42, Some(3));
                let want = shell_words::split(&line).unwrap();
                let spec = tpl.exec_spec(&job, 42);
                assert_eq!(spec.argv_with_slot(3), want, "{words:?} on {job:?}");
            }
        }
        let quoted =
            Template::parse(&args(&["printf", "%s|", "a b", "{}"]), true, 1, "sh").unwrap();
        assert!(quoted.is_direct());
        assert_eq!(
            quoted.exec_spec(&args(&["c'd"]), 1).argv,
            ["printf", "%s|", "a b", "c'd"]
        );
    }

    #[test]
    fn the_slot_goes_into_the_shell_command_line_too() {
        let tpl = t(&["echo {%} | cat", "{}"]);
        assert!(!tpl.is_direct());
        let spec = tpl.exec_spec(&args(&["a b"]), 1);
        assert_eq!(spec.argv_with_slot(5)[3], "echo 5 | cat 'a b'");
        assert_eq!(spec.slot_env.as_deref(), Some("PARALLEL_JOBSLOT"));
    }

    #[test]
    fn no_command_means_the_inputs_are_commands() {
        let tpl = Template::parse(&[], false, 1, "sh").unwrap();
        assert_eq!(tpl.command_line(&args(&["echo hi"]), 1, None), "echo hi");
        assert_eq!(
            tpl.exec_spec(&args(&["echo hi"]), 1).argv,
            ["sh", "-c", "--", "echo hi"]
        );
    }
}
