//! Subcommands of the `duplex` binary, one file each.

pub mod chat;
pub mod models;
pub mod say;
pub mod transcribe;
