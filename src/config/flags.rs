//! The settings' command-line flags, made from [`SETTINGS`]: each setting
//! with a flag is one clap argument whose value parser is the setting's own
//! grammar, so `-j 50%` means what `POOLTOP_WORKERS=50%` and `workers =
//! "50%"` mean, and a bad value is refused in the same words.

use clap::{Arg, ArgAction, ArgMatches, Args, Command, FromArgMatches};

use super::schema::{Flag, SETTINGS, Setting, Value};
use super::value::Raw;
use super::{Layer, Origin};

/// The setting flags of a command line: those given, as the top layer of
/// the settings (`Default`: none given). Flattened into the options of every
/// pool (`cli::PoolArgs`).
#[derive(Debug, Clone, Default)]
pub struct SettingFlags {
    layer: Layer,
}

impl SettingFlags {
    /// The flags given, as a layer over the file and the environment.
    pub fn layer(&self) -> Layer {
        self.layer.clone()
    }
}

/// The clap argument of `setting`'s flag: its id is the setting's name
/// (`task_timeout`), which other arguments' `conflicts_with` may name.
fn argument(setting: &'static Setting, flag: &'static Flag) -> Arg {
    let kind = setting.kind;
    let arg = Arg::new(setting.name)
        .long(flag.long())
        .visible_aliases(flag.aliases)
        .short_aliases(flag.short_aliases.iter().copied())
        .value_name(flag.value)
        .help(flag.help)
        .action(ArgAction::Set)
        // `-1` reaches the check (and its message) instead of being taken for a flag.
        .allow_negative_numbers(kind.takes_numbers())
        .value_parser(move |text: &str| kind.parse(Raw::Text(text)));
    match flag.short() {
        Some(c) => arg.short(c),
        None => arg,
    }
}

impl Args for SettingFlags {
    fn augment_args(cmd: Command) -> Command {
        SETTINGS.iter().fold(cmd, |cmd, s| match &s.flag {
            Some(flag) => cmd.arg(argument(s, flag)),
            None => cmd,
        })
    }

    fn augment_args_for_update(cmd: Command) -> Command {
        Self::augment_args(cmd)
    }
}

impl FromArgMatches for SettingFlags {
    fn from_arg_matches(matches: &ArgMatches) -> Result<Self, clap::Error> {
        let mut flags = SettingFlags::default();
        flags.update_from_arg_matches(matches)?;
        Ok(flags)
    }

    fn update_from_arg_matches(&mut self, matches: &ArgMatches) -> Result<(), clap::Error> {
        for s in SETTINGS {
            let Some(flag) = &s.flag else {
                continue;
            };
            // An argument this command does not have is one not given.
            if let Ok(Some(value)) = matches.try_get_one::<Value>(s.name) {
                self.layer
                    .set(s.key, value.clone(), Origin::Flag(flag.names));
            }
        }
        Ok(())
    }
}
