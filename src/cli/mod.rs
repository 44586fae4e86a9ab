//! Subcommands of the `duplex` binary, one file each.

pub mod bench;
pub mod bench_gaps;
pub mod bench_quality;
pub mod bench_turns;
pub mod chat;
pub mod config;
pub mod config_keys;
pub mod config_toml;
pub mod converse;
pub mod devices;
pub mod memory;
pub mod models;
pub mod say;
pub mod serve;
pub mod talk;
pub mod transcribe;
pub mod turn_report;
