//! `pooltop logs --all`: many tasks' output merged, each whole line
//! prefixed with its task id and worker, so lines of two tasks never mix.

use std::collections::BTreeMap;

/// Output pieces in, whole prefixed lines out; a line's start is held until
/// its end arrives.
#[derive(Debug, Default)]
pub struct Prefixer {
    /// Per task and stream: its worker and the start of a line not yet ended.
    partial: BTreeMap<(u64, bool), (u32, String)>,
}

impl Prefixer {
    /// Takes `text` of `task`'s stream; returns its whole lines, prefixed.
    pub fn push(&mut self, task: u64, worker: u32, stderr: bool, text: &str) -> String {
        let held = self.partial.entry((task, stderr)).or_default();
        held.0 = worker;
        held.1.push_str(text);
        let Some(end) = held.1.rfind('\n') else {
            return String::new();
        };
        let rest = held.1.split_off(end + 1);
        let whole = std::mem::replace(&mut held.1, rest);
        prefixed(task, worker, &whole)
    }

    /// The lines left without an end, each ended and prefixed.
    pub fn finish(&mut self) -> String {
        let mut out = String::new();
        for ((task, _), (worker, text)) in std::mem::take(&mut self.partial) {
            if !text.is_empty() {
                out.push_str(&prefixed(task, worker, &(text + "\n")));
            }
        }
        out
    }
}

/// Each line of `text` (which ends with a newline) with `#TASK wWORKER | ` before it.
fn prefixed(task: u64, worker: u32, text: &str) -> String {
    text.lines()
        .map(|l| format!("#{task} w{worker} | {l}\n"))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn whole_lines_are_prefixed_and_halves_wait_for_their_end() {
        let mut p = Prefixer::default();
        assert_eq!(p.push(3, 1, false, "a\nb"), "#3 w1 | a\n");
        assert_eq!(p.push(4, 2, false, "x\n"), "#4 w2 | x\n");
        assert_eq!(p.push(3, 1, false, "c\nd\n"), "#3 w1 | bc\n#3 w1 | d\n");
        assert_eq!(p.push(3, 1, true, "err"), "");
        assert_eq!(p.finish(), "#3 w1 | err\n");
    }
}
