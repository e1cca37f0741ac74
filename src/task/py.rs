//! The `py` task's line: `py MODULE:FUNCTION [ARG ...]`, parsed into a
//! [`PySpec`]. Pure data, as the rest of `task`.

use serde::{Deserialize, Serialize};

use super::{ParseError, err};

/// A Python function call: what [`TaskSpec::Py`](super::TaskSpec::Py) holds, written
/// `py MODULE:FUNCTION [ARG ...]`.
///
/// `module` is an importable module name, or a path to a `.py` file (one
/// that ends in `.py` or holds a `/`), which is imported under another
/// name so that its `if __name__ == "__main__":` block does not run.
/// `function` may be dotted (`Class.method`). Each argument is JSON text:
/// a word that parses as JSON is kept as written, any other word becomes a
/// JSON string.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct PySpec {
    pub module: String,
    pub function: String,
    /// The arguments, each one JSON value as text.
    pub args: Vec<String>,
}

impl PySpec {
    /// Parses `MODULE:FUNCTION` (split at the last colon, so a module path
    /// may hold colons) and the words after it.
    pub fn parse(target: &str, words: &[&str]) -> Result<PySpec, ParseError> {
        let (module, function) = target.rsplit_once(':').ok_or_else(|| {
            err(format!(
                "`py` wants MODULE:FUNCTION (e.g. `py mymod:work 3`), got `{target}` with no colon"
            ))
        })?;
        if module.is_empty() {
            return Err(err(format!("`py {target}`: the module name is empty")));
        }
        if function.is_empty() {
            return Err(err(format!("`py {target}`: the function name is empty")));
        }
        let is_name = |part: &str| {
            let mut chars = part.chars();
            chars.next().is_some_and(|c| c == '_' || c.is_alphabetic())
                && chars.all(|c| c == '_' || c.is_alphanumeric())
        };
        if !function.split('.').all(is_name) {
            return Err(err(format!(
                "`py {target}`: `{function}` is not a Python function name"
            )));
        }
        Ok(PySpec {
            module: module.to_string(),
            function: function.to_string(),
            args: words.iter().map(|w| py_arg(w)).collect(),
        })
    }

    /// `MODULE:FUNCTION`, as written on a task line.
    pub fn target(&self) -> String {
        format!("{}:{}", self.module, self.function)
    }
}

/// One `py` argument as JSON text: the word itself when it is a JSON value
/// (`3`, `"a b"`, `[1,2]`, `{"k":1}`, `true`, `null`), else the word as a
/// JSON string.
pub fn py_arg(word: &str) -> String {
    if serde_json::from_str::<serde::de::IgnoredAny>(word).is_ok() {
        word.to_string()
    } else {
        serde_json::Value::String(word.to_string()).to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::super::TaskSpec;
    use super::*;

    #[test]
    fn py_lines_keep_json_arguments_and_quote_the_rest() {
        let spec = |line| match TaskSpec::parse(line) {
            Ok(TaskSpec::Py(spec)) => *spec,
            other => panic!("{line}: {other:?}"),
        };
        let got = spec(r#"py mymod:work 3 '"a b"' [1,2] '{"k": 1}' hello 'two words' -1.5 null"#);
        assert_eq!(got.module, "mymod");
        assert_eq!(got.function, "work");
        let want = [
            "3",
            r#""a b""#,
            "[1,2]",
            r#"{"k": 1}"#,
            r#""hello""#,
            r#""two words""#,
            "-1.5",
            "null",
        ];
        assert_eq!(got.args, want);
        // A path may hold colons; the function is after the last one.
        let got = spec("py ./dir:x/tool.py:Class.method");
        assert_eq!(got.module, "./dir:x/tool.py");
        assert_eq!(got.function, "Class.method");
        assert!(got.args.is_empty());
        assert_eq!(got.target(), "./dir:x/tool.py:Class.method");
        assert_eq!(py_arg(r#"say "hi""#), r#""say \"hi\"""#);
    }
}
