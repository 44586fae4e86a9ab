//! Bad input to `duplex serve`'s signalling endpoint, against the shipped binary: malformed,
//! empty, binary, oversized, video-only and unanswerable offers each get a 4xx with a message
//! naming the problem, and the server keeps serving (no panic, no session left behind).

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

fn start() -> Server {
    let mut child = Command::new(env!("CARGO_BIN_EXE_duplex"))
        .args(["serve", "--bind", "127.0.0.1:0"])
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
    let mut stderr = String::new();
    let _ = server
        .child
        .stderr
        .take()
        .expect("stderr")
        .read_to_string(&mut stderr);
    assert!(!stderr.contains("panicked"), "{stderr}");
}
