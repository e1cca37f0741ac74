//! The live dashboard (issue 3): the pool's workers, cores and tasks, steered
//! by keypress.
//!
//! Shape: [`app::App`] is the view-model and the only owner of dashboard
//! state; [`msg::Msg`] is everything it reacts to; [`keymap`] turns keys into
//! intents; [`view`] draws the app (`impl Widget for &App`); `run` is the one
//! loop and the only code that touches the terminal.

pub mod app;
pub mod fmt;
pub mod keymap;
pub mod layout;
pub mod msg;
#[doc(hidden)]
pub mod testkit;
pub mod theme;
mod view;
