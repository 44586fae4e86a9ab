//! Fuzzes the configuration loader (`duplex::config::Config::from_toml_str`, which
//! `Config::from_file` uses) with any text. A configuration that loads must also print as TOML
//! (as `duplex config` prints the effective one) and load again to the same printed text.
#![no_main]

use std::path::Path;

use duplex::config::Config;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(config) = Config::from_toml_str(text, Path::new("fuzz-input.toml")) else {
        return;
    };
    let printed = toml::to_string(&config).unwrap_or_else(|e| {
        panic!("a loaded configuration does not print as TOML ({e}): {config:?}")
    });
    let again = Config::from_toml_str(&printed, Path::new("printed.toml"))
        .unwrap_or_else(|e| panic!("the printed configuration does not load ({e}):\n{printed}"));
    let reprinted = toml::to_string(&again).expect("a loaded configuration prints");
    assert_eq!(reprinted, printed, "printing is stable");
});
