//! A `duplex serve` process for a test: started on a free loopback port (the address read from
//! its "listening on" line), killed and reaped when dropped.

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::Path;
use std::process::{Child, Command, Stdio};

/// A running `duplex serve`.
pub struct Server {
    pub child: Child,
    pub addr: SocketAddr,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `duplex serve --bind 127.0.0.1:0 --no-memory ARGS`, run from the repository root, once it
/// listens.
pub fn start(args: &[&str]) -> Server {
    let mut child = Command::new(env!("CARGO_BIN_EXE_duplex"))
        .current_dir(Path::new(env!("CARGO_MANIFEST_DIR")))
        .args(["serve", "--bind", "127.0.0.1:0", "--no-memory"])
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("start duplex serve");
    let mut lines = BufReader::new(child.stdout.take().expect("stdout")).lines();
    let addr = loop {
        let line = lines
            .next()
            .expect("duplex serve exited before listening (models missing? bash scripts/setup.sh)")
            .expect("read stdout");
        if let Some(url) = line.split("listening on http://").nth(1) {
            break url.trim_end_matches('/').parse().expect("an address");
        }
    };
    std::thread::spawn(move || lines.for_each(drop));
    Server { child, addr }
}
