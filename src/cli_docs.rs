//! Shell completions and man pages, generated from the clap definitions
//! (`pooltop completions SHELL`, `pooltop man`). Everything is rendered into
//! memory; `main` writes it out.

use std::io;

use clap::{Command, CommandFactory};

use crate::cli::Cli;
use crate::config::{CONFIG_ENV, SETTINGS};

/// The command line users see: [`Cli`] without its hidden subcommands
/// (completion scripts would offer them otherwise).
pub fn public_command() -> Command {
    let full = Cli::command();
    let subs: Vec<Command> = full
        .get_subcommands()
        .filter(|s| !s.is_hide_set())
        .cloned()
        .collect();
    let mut cmd = Command::new("pooltop")
        .version(crate::cli::version())
        .subcommands(subs);
    if let Some(about) = full.get_about() {
        cmd = cmd.about(about.clone());
    }
    if let Some(after) = full.get_after_help() {
        cmd = cmd.after_help(after.clone());
    }
    cmd
}

/// The completion script for `shell`.
pub fn completions(shell: clap_complete::Shell) -> Vec<u8> {
    let mut out = Vec::new();
    clap_complete::generate(shell, &mut public_command(), "pooltop", &mut out);
    out
}

/// Every man page: `pooltop.1` and one `pooltop-SUBCOMMAND.1` per
/// subcommand, as (file name, roff).
pub fn man_pages() -> io::Result<Vec<(String, Vec<u8>)>> {
    let mut cmd = public_command().disable_help_subcommand(true);
    cmd.build();
    let mut pages = vec![("pooltop.1".to_string(), page(&cmd, true)?)];
    for sub in cmd.get_subcommands() {
        let name = format!("{}.1", sub.get_display_name().unwrap_or(sub.get_name()));
        pages.push((name, page(sub, false)?));
    }
    Ok(pages)
}

/// pooltop(1).
pub fn man_page() -> io::Result<Vec<u8>> {
    let mut cmd = public_command().disable_help_subcommand(true);
    cmd.build();
    page(&cmd, true)
}

/// One page: clap_mangen's sections, then the worked examples as written
/// (no filling), and for the main page the environment, the files and the
/// exit status.
fn page(cmd: &Command, main: bool) -> io::Result<Vec<u8>> {
    let man = clap_mangen::Man::new(cmd.clone());
    let mut out = Vec::new();
    man.render_title(&mut out)?;
    man.render_name_section(&mut out)?;
    man.render_synopsis_section(&mut out)?;
    man.render_description_section(&mut out)?;
    if cmd.get_arguments().any(|a| !a.is_hide_set()) {
        man.render_options_section(&mut out)?;
    }
    if cmd.get_subcommands().any(|s| !s.is_hide_set()) {
        man.render_subcommands_section(&mut out)?;
    }
    let mut roff = String::new();
    if let Some(after) = cmd.get_after_help() {
        let text = after.to_string();
        let body = text.strip_prefix("Examples:\n").unwrap_or(&text);
        roff.push_str(".SH EXAMPLES\n.nf\n");
        for line in body.lines() {
            roff.push_str(&escape_line(line));
            roff.push('\n');
        }
        roff.push_str(".fi\n");
    }
    if main {
        roff.push_str(&main_sections());
    } else {
        roff.push_str(".SH \"SEE ALSO\"\n.BR pooltop (1)\n");
    }
    out.extend_from_slice(roff.as_bytes());
    if cmd.get_version().is_some() {
        man.render_version_section(&mut out)?;
    }
    Ok(out)
}

/// ENVIRONMENT, FILES and EXIT STATUS of pooltop(1).
fn main_sections() -> String {
    let mut r = String::from(".SH ENVIRONMENT\n");
    let mut var = |name: &str, text: &str| {
        r.push_str(&format!(".TP\n.B {name}\n{}\n", escape_text(text)));
    };
    var(
        CONFIG_ENV,
        "The config file to read instead of the XDG location (--config PATH wins over it).",
    );
    for s in SETTINGS {
        let doc = s.doc.split_whitespace().collect::<Vec<_>>().join(" ");
        let flag = s
            .flag
            .as_ref()
            .map(|f| format!(" The flag {} overrides it.", f.names))
            .unwrap_or_default();
        var(
            s.env,
            &format!(
                "Overrides {} of the config file: {doc}{flag}",
                s.qualified()
            ),
        );
    }
    var(
        "NO_COLOR",
        "When set and not empty, the dashboard draws no colour, unless a theme is chosen.",
    );
    var(
        "XDG_CONFIG_HOME",
        "Where the config file is looked for (default ~/.config).",
    );
    var(
        "XDG_RUNTIME_DIR",
        "Where running pools open their control sockets (default /tmp/pooltop-UID).",
    );
    r.push_str(".SH FILES\n");
    r.push_str(&format!(
        ".TP\n.I $XDG_CONFIG_HOME/pooltop/config.toml\n{}\n",
        escape_text(
            "The config file (TOML), else ~/.config/pooltop/config.toml: defaults for every \
             pool option, the dashboard's refresh, theme and keys. \
             `pooltop config --default` prints one with every setting commented; \
             `pooltop config --check` checks it."
        )
    ));
    r.push_str(".SH \"EXIT STATUS\"\n");
    for (code, text) in [
        ("0", "Every task is done."),
        ("1", "Some task failed, timed out or was cancelled."),
        ("2", "Bad input, options or config file: nothing ran."),
    ] {
        r.push_str(&format!(".TP\n.B {code}\n{}\n", escape_text(text)));
    }
    r
}

/// Text for a roff line: backslashes and hyphens escaped, and a leading
/// `.` or `'` kept from reading as a request.
fn escape_text(s: &str) -> String {
    let s = s.replace('\\', "\\e").replace('-', "\\-");
    if s.starts_with(['.', '\'']) {
        format!("\\&{s}")
    } else {
        s
    }
}

/// A line of a no-fill block: like [`escape_text`], and blank lines kept.
fn escape_line(s: &str) -> String {
    if s.trim().is_empty() {
        return String::new();
    }
    escape_text(s)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hidden_subcommands_are_left_out() {
        let cmd = public_command();
        assert!(cmd.find_subcommand("worker").is_none());
        assert!(cmd.find_subcommand("run").is_some());
        for shell in [
            clap_complete::Shell::Bash,
            clap_complete::Shell::Zsh,
            clap_complete::Shell::Fish,
        ] {
            let text = String::from_utf8(completions(shell)).unwrap();
            assert!(text.contains("config"), "{shell}");
            assert!(!text.contains("Internal: run as a pool worker"), "{shell}");
        }
    }

    #[test]
    fn every_page_has_its_examples_and_the_main_one_its_environment() {
        let pages = man_pages().unwrap();
        let names: Vec<&str> = pages.iter().map(|(n, _)| n.as_str()).collect();
        assert!(names.contains(&"pooltop.1"));
        assert!(names.contains(&"pooltop-run.1"));
        assert!(names.contains(&"pooltop-config.1"));
        assert!(!names.iter().any(|n| n.contains("worker")));
        for (name, roff) in &pages {
            let text = String::from_utf8_lossy(roff);
            assert!(text.contains(".SH EXAMPLES"), "{name}");
        }
        let main = String::from_utf8(man_page().unwrap()).unwrap();
        for s in SETTINGS {
            assert!(main.contains(&format!(".B {}", s.env)), "{}", s.env);
        }
        assert!(main.contains(".SH \"EXIT STATUS\""));
    }

    #[test]
    fn roff_escapes() {
        assert_eq!(escape_text("a-b \\n"), "a\\-b \\en");
        assert_eq!(escape_text(".hidden"), "\\&.hidden");
        assert_eq!(escape_line("   "), "");
    }
}
