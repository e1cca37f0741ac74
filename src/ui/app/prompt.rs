//! A one-line text editor for the submit and filter prompts.

use crate::ui::msg::Edit;

/// The line and the cursor (a char index).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Prompt {
    pub text: String,
    pub cursor: usize,
}

impl Prompt {
    /// A prompt holding `text`, cursor at its end.
    pub fn with(text: &str) -> Prompt {
        Prompt {
            text: text.to_string(),
            cursor: text.chars().count(),
        }
    }

    fn byte(&self, char_idx: usize) -> usize {
        self.text
            .char_indices()
            .nth(char_idx)
            .map_or(self.text.len(), |(b, _)| b)
    }

    /// Applies an edit; returns whether the text changed. `Confirm` and
    /// `Cancel` are the caller's business.
    pub fn edit(&mut self, e: Edit) -> bool {
        let len = self.text.chars().count();
        match e {
            Edit::Insert(c) => {
                let b = self.byte(self.cursor);
                self.text.insert(b, c);
                self.cursor += 1;
                true
            }
            Edit::Backspace if self.cursor > 0 => {
                self.cursor -= 1;
                let b = self.byte(self.cursor);
                self.text.remove(b);
                true
            }
            Edit::Delete if self.cursor < len => {
                let b = self.byte(self.cursor);
                self.text.remove(b);
                true
            }
            Edit::Left => {
                self.cursor = self.cursor.saturating_sub(1);
                false
            }
            Edit::Right => {
                self.cursor = (self.cursor + 1).min(len);
                false
            }
            Edit::Home => {
                self.cursor = 0;
                false
            }
            Edit::End => {
                self.cursor = len;
                false
            }
            Edit::Clear => {
                let changed = !self.text.is_empty();
                self.text.clear();
                self.cursor = 0;
                changed
            }
            _ => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn edits_in_the_middle_of_unicode() {
        let mut p = Prompt::with("sé");
        p.edit(Edit::Left);
        p.edit(Edit::Insert('x'));
        assert_eq!(p.text, "sxé");
        p.edit(Edit::Backspace);
        p.edit(Edit::Delete);
        assert_eq!(p.text, "s");
        assert_eq!(p.cursor, 1);
        p.edit(Edit::Clear);
        assert_eq!(p, Prompt::default());
    }
}
