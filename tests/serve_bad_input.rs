//! Bad input to `duplex serve`'s signalling endpoint, against the shipped binary: malformed,
//! empty, binary, oversized, video-only and unanswerable offers each get a 4xx with a message
//! naming the problem, and the server keeps serving (no panic, no session left behind). A hung
//! engine does not hold up a stop signal.

use std::io::{BufRead, BufReader, Read};
use std::process::{Child, Command, Stdio};

struct Server {
    child: Child,
    url: String,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Server {
    /// Everything the server wrote to stderr (call once it has exited or been killed).
    fn stderr(&mut self) -> String {
        let mut text = String::new();
        let _ = self
            .child
            .stderr
            .take()
            .expect("stderr")
            .read_to_string(&mut text);
        text
    }
}

fn start() -> Server {
    start_with_env(&[])
}

fn start_with_env(env: &[(&str, &std::path::Path)]) -> Server {
    start_with(&[], env)
}

fn start_with(args: &[&str], env: &[(&str, &std::path::Path)]) -> Server {
    let mut child = Command::new(env!("CARGO_BIN_EXE_duplex"))
        .args(["serve", "--bind", "127.0.0.1:0", "--no-memory"])
        .args(args)
        .envs(env.iter().copied())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start duplex serve");
    let stdout = child.stdout.take().expect("stdout");
    let mut lines = BufReader::new(stdout).lines();
    let url = loop {
        let line = lines
            .next()
            .expect("duplex serve exited before listening")
            .expect("read stdout");
        if let Some(url) = line.split("listening on ").nth(1) {
            break url.trim_end_matches('/').to_owned();
        }
    };
    // Keep reading what it prints, so that its last lines (at a stop signal) find the pipe open.
    std::thread::spawn(move || lines.for_each(drop));
    Server { child, url }
}

fn agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .build()
        .into()
}

/// POSTs `body` to /offer; returns the status and the response text.
fn offer(server: &Server, body: &[u8]) -> (u16, String) {
    let mut response = agent()
        .post(&format!("{}/offer", server.url))
        .content_type("application/sdp")
        .header("Origin", &server.url)
        .send(body)
        .expect("POST /offer");
    let status = response.status().as_u16();
    let mut text = String::new();
    let _ = response.body_mut().as_reader().read_to_string(&mut text);
    (status, text)
}

fn healthy(server: &Server) -> serde_json::Value {
    let mut response = agent()
        .get(&format!("{}/health", server.url))
        .call()
        .expect("GET /health");
    assert_eq!(response.status().as_u16(), 200);
    serde_json::from_str(&response.body_mut().read_to_string().expect("body")).expect("JSON")
}

const SESSION: &str = "v=0\r\no=- 1 2 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\n";

#[test]
fn bad_offers_get_4xx_with_a_message_and_the_server_keeps_serving() {
    let mut server = start();
    let cases: Vec<(&str, Vec<u8>, u16, &str)> = vec![
        ("garbage", b"hello, I am not SDP".to_vec(), 400, "not valid SDP"),
        ("empty", Vec::new(), 400, "empty"),
        ("binary", vec![0xff, 0xfe, 0x00, 0x80, 0x81], 400, "UTF-8"),
        // Just over the 64 KiB limit: small enough to be fully written before the server answers
        // (a far larger body races the server's early 413 against the client's write).
        ("oversized", vec![b'a'; 64 * 1024 + 1024], 413, "length limit"),
        (
            "video only",
            format!(
                "{SESSION}m=video 9 UDP/TLS/RTP/SAVPF 96\r\nc=IN IP4 0.0.0.0\r\na=rtpmap:96 VP8/90000\r\n"
            )
            .into_bytes(),
            400,
            "no audio section",
        ),
        (
            "audio without ICE or DTLS parameters",
            format!(
                "{SESSION}m=audio 9 UDP/TLS/RTP/SAVPF 111\r\nc=IN IP4 0.0.0.0\r\na=rtpmap:111 opus/48000/2\r\n"
            )
            .into_bytes(),
            400,
            "cannot",
        ),
        (
            "hostile lengths",
            format!("{SESSION}m=audio 9 UDP/TLS/RTP/SAVPF {}\r\n", "9".repeat(40_000)).into_bytes(),
            400,
            "",
        ),
    ];
    for (name, body, status, message) in cases {
        let (got, text) = offer(&server, &body);
        assert_eq!(got, status, "{name}: {text}");
        assert!(
            text.contains(message),
            "{name}: the message {text:?} should mention {message:?}"
        );
        assert!(!text.trim().is_empty(), "{name}: a message");
        let health = healthy(&server);
        assert_eq!(health["sessions"], 0, "{name}: no session left behind");
    }
    assert!(
        server.child.try_wait().expect("server status").is_none(),
        "the server is still running"
    );
    let mut page = agent().get(&server.url).call().expect("GET /");
    assert!(
        page.body_mut()
            .read_to_string()
            .expect("page")
            .contains("Talk")
    );
    let _ = server.child.kill();
    let stderr = server.stderr();
    assert!(!stderr.contains("panicked"), "{stderr}");
}

/// POSTs a minimal offer with exactly these headers (Host included) over a plain TCP
/// connection; returns the status and the text.
fn offer_with(server: &Server, headers: &[(&str, &str)]) -> (u16, String) {
    use std::io::Write;
    let addr = server.url.trim_start_matches("http://");
    let body = format!("{SESSION}m=audio 9 UDP/TLS/RTP/SAVPF 111\r\n");
    let mut request = String::from("POST /offer HTTP/1.1\r\n");
    for (name, value) in headers {
        request.push_str(&format!("{name}: {value}\r\n"));
    }
    request.push_str(&format!(
        "Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    ));
    let mut stream = std::net::TcpStream::connect(addr).expect("connect");
    stream.write_all(request.as_bytes()).expect("send");
    let mut answer = String::new();
    let _ = stream.read_to_string(&mut answer);
    let status = answer
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let text = answer
        .split_once("\r\n\r\n")
        .map_or("", |(_, t)| t)
        .to_owned();
    (status, text)
}

fn metrics(server: &Server) -> String {
    agent()
        .get(&format!("{}/metrics", server.url))
        .call()
        .expect("GET /metrics")
        .body_mut()
        .read_to_string()
        .expect("metrics text")
}

/// A refused offer: what it is, its headers, the status and a word of the message expected.
type RefusalCase = (&'static str, Vec<(&'static str, String)>, u16, &'static str);

#[test]
fn offers_from_other_sites_are_refused_before_any_work_and_counted() {
    let server = start();
    let host = server.url.trim_start_matches("http://").to_owned();
    let port = host.rsplit(':').next().unwrap().to_owned();
    let cases: Vec<RefusalCase> = vec![
        (
            "a simple cross-site request",
            vec![
                ("Host", host.clone()),
                ("Content-Type", "text/plain;charset=UTF-8".into()),
                ("Origin", "https://evil.example".into()),
            ],
            415,
            "application/sdp",
        ),
        (
            "another site's page",
            vec![
                ("Host", host.clone()),
                ("Content-Type", "application/sdp".into()),
                ("Origin", "https://evil.example".into()),
            ],
            403,
            "--allow-origin",
        ),
        (
            "a rebound host name",
            vec![
                ("Host", format!("evil.example:{port}")),
                ("Content-Type", "application/sdp".into()),
                ("Origin", format!("http://evil.example:{port}")),
            ],
            403,
            "host name",
        ),
    ];
    for (name, headers, status, message) in cases {
        let headers: Vec<(&str, &str)> = headers.iter().map(|(n, v)| (*n, v.as_str())).collect();
        let (got, text) = offer_with(&server, &headers);
        assert_eq!(got, status, "{name}: {text}");
        assert!(text.contains(message), "{name}: {text}");
        assert_eq!(healthy(&server)["sessions"], 0, "{name}");
    }
    // The page's own origin passes the checks (the offer itself is then judged: 400 here).
    let own = format!("http://{host}");
    let (got, text) = offer_with(
        &server,
        &[
            ("Host", host.as_str()),
            ("Content-Type", "application/sdp"),
            ("Origin", own.as_str()),
        ],
    );
    assert_eq!(got, 400, "{text}");
    let text = metrics(&server);
    assert!(
        text.contains("duplex_offers_refused_total{reason=\"origin\"} 3"),
        "{text}"
    );
    assert!(
        text.contains("duplex_offers_refused_total{reason=\"bad_offer\"} 1"),
        "{text}"
    );
    assert!(text.contains("duplex_sessions_live 0"), "{text}");
}

#[test]
fn slow_and_oversized_clients_are_cut_off_while_the_page_still_answers() {
    use std::io::Write;
    use std::net::TcpStream;
    use std::time::{Duration, Instant};

    // One address for all: its share of connections raised above them (tests/serve_admission.rs
    // has the per-address cap).
    let server = start_with(&["--max-connections-per-client", "256"], &[]);
    let addr = server.url.trim_start_matches("http://").to_owned();
    // 200 clients that send a request line and then trickle a header, one byte a second.
    let mut slow: Vec<TcpStream> = (0..200)
        .map(|_| {
            let mut s = TcpStream::connect(&addr).expect("connect");
            s.write_all(b"GET / HTTP/1.1\r\nHost: x\r\nX-Slow: ")
                .expect("write");
            s
        })
        .collect();
    let started = Instant::now();
    let mut page = agent()
        .get(&server.url)
        .call()
        .expect("GET / beside 200 slow clients");
    let page_ms = started.elapsed().as_millis();
    assert!(
        page.body_mut()
            .read_to_string()
            .expect("page")
            .contains("Talk")
    );
    println!("GET / beside 200 slow clients: {page_ms} ms");
    // A body that declares 1 TB is refused at once, not read.
    let mut big = TcpStream::connect(&addr).expect("connect");
    big.write_all(
        format!(
            "POST /offer HTTP/1.1\r\nHost: {addr}\r\nOrigin: http://{addr}\r\nContent-Type: application/sdp\r\nContent-Length: 1000000000000\r\n\r\nv=0\r\n"
        )
        .as_bytes(),
    )
    .expect("write");
    big.set_read_timeout(Some(Duration::from_secs(3)))
        .expect("timeout");
    let mut answer = [0u8; 64];
    let n = big.read(&mut answer).expect("an answer within 3 s");
    assert!(
        String::from_utf8_lossy(&answer[..n]).starts_with("HTTP/1.1 413"),
        "{}",
        String::from_utf8_lossy(&answer[..n])
    );
    // The slow clients are cut off once the header timeout (5 s) has passed.
    std::thread::sleep(Duration::from_secs(7));
    let mut closed = 0;
    for s in &mut slow {
        let _ = s.write_all(b"a");
        s.set_read_timeout(Some(Duration::from_millis(200)))
            .expect("timeout");
        let mut buf = [0u8; 256];
        // A cut-off connection reads an end of file (after hyper's 408, if it sent one) or fails.
        match s.read(&mut buf) {
            Ok(_) => closed += 1,
            Err(e)
                if e.kind() != std::io::ErrorKind::WouldBlock
                    && e.kind() != std::io::ErrorKind::TimedOut =>
            {
                closed += 1
            }
            Err(_) => {}
        }
    }
    assert_eq!(closed, 200, "every slow client was cut off");
    assert_eq!(healthy(&server)["sessions"], 0);
}

#[test]
fn a_stop_signal_ends_the_server_while_its_llm_worker_hangs_loading() {
    use std::os::unix::fs::PermissionsExt;
    use std::time::{Duration, Instant};

    // A worker that reads its requests and never answers (it exits when its stdin closes, as
    // the real one does); the shell keeps its output open, so the spare engine set loaded at
    // start-up waits for it to say it has loaded for the whole load timeout (60 s).
    let dir = tempfile::tempdir().expect("temp dir");
    let worker = dir.path().join("hung-llm-worker");
    std::fs::write(&worker, "#!/bin/sh\ncat >/dev/null\n").expect("write worker");
    std::fs::set_permissions(&worker, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    let mut server = start_with_env(&[("DUPLEX_LLM_WORKER", worker.as_path())]);
    std::thread::sleep(Duration::from_secs(1));
    assert_eq!(healthy(&server)["spare_engines_ready"], false);

    let pid = i32::try_from(server.child.id()).expect("pid");
    // SAFETY: kill(2) on our own child's pid has no memory effects.
    assert_eq!(unsafe { libc::kill(pid, libc::SIGTERM) }, 0);
    let signalled = Instant::now();
    // A guard against a hang, far below the worker's load timeout: the server does not wait
    // for the spare set it was loading.
    let status = loop {
        if let Some(status) = server.child.try_wait().expect("wait") {
            break status;
        }
        assert!(
            signalled.elapsed() < Duration::from_secs(30),
            "the server was still running 30 s after SIGTERM"
        );
        std::thread::sleep(Duration::from_millis(50));
    };
    println!(
        "stopped {} ms after SIGTERM",
        signalled.elapsed().as_millis()
    );
    let stderr = server.stderr();
    assert!(status.success(), "{status}: {stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
}
