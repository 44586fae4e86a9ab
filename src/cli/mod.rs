//! Subcommands of the `duplex` binary, one file each.

pub mod models;
pub mod transcribe;
