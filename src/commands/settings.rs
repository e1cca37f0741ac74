//! `pooltop config` (the settings in effect, the default file, a check)
//! and `pooltop man`.

use std::io;
use std::path::Path;

use crate::cli::ConfigArgs;
use crate::config::{self, FileChoice};
use crate::ui::keymap::{self, Keymap};

use super::{Failure, check_keys, config_failure, write_stdout};

/// `pooltop config`: the settings in effect (`--default`: the default file;
/// `--check`: check one file).
pub fn config_cmd(args: ConfigArgs) -> Result<u8, Failure> {
    let env = &config::process_env;
    if args.default {
        let text = config::default_file(&keymap::config_docs(), keymap::CONFIG_HELP);
        return write_stdout(text.as_bytes());
    }
    let file = match &args.check {
        Some(Some(path)) => FileChoice::Flag(path.clone()),
        _ => config::locate(args.config.as_deref(), env),
    };
    if args.check.is_some() {
        match config::read_file(&file, &check_keys).map_err(config_failure)? {
            Some(_) => {}
            None => {
                let place = file
                    .path()
                    .map_or("no config location".into(), |p| p.display().to_string());
                pooltop::say!("pooltop: no config file ({place}); the built-in defaults apply");
                return Ok(0);
            }
        };
        let path = file
            .path()
            .map(|p| p.display().to_string())
            .unwrap_or_default();
        return write_stdout(format!("{path}: ok\n").as_bytes());
    }
    let settings =
        config::load(&file, env, config::Layer::default(), &check_keys).map_err(config_failure)?;
    let keys = Keymap::from_binds(&settings.keys).map_err(config_failure)?;
    let mut text = match (&settings.file, file.path()) {
        (Some(p), _) => format!("# config file: {}\n", p.display()),
        (None, Some(p)) => format!("# config file: none ({} does not exist)\n", p.display()),
        (None, None) => "# config file: none\n".to_string(),
    };
    text.push_str(&settings.show());
    text.push('\n');
    text.push_str(&keys.show(&settings.keys));
    write_stdout(text.as_bytes())
}

/// `pooltop man`: the page on stdout, or every page into `dir`.
pub fn man(dir: Option<&Path>) -> Result<u8, Failure> {
    let Some(dir) = dir else {
        let page = crate::cli_docs::man_page()
            .map_err(|e| Failure::usage(format!("cannot render the man page: {e}")))?;
        return write_stdout(&page);
    };
    let write = || -> io::Result<()> {
        std::fs::create_dir_all(dir)?;
        for (name, page) in crate::cli_docs::man_pages()? {
            std::fs::write(dir.join(name), page)?;
        }
        Ok(())
    };
    write().map_err(|e| {
        Failure::usage(format!(
            "cannot write the man pages to {}: {e}",
            dir.display()
        ))
    })?;
    Ok(0)
}
