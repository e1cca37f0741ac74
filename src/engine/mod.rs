//! The pool engine: the one owner of pool state.

pub mod events;
