//! Admission of `duplex serve`, against the shipped binary over HTTP on loopback: every refusal
//! (its status, and the reason text the page shows), pending offers that take no call slot and
//! are dropped at the connect timeout, the per-address caps on calls, pending offers and
//! connections, the host check on `/health` and `/metrics`, offers without an `Origin`, the
//! maximum call length, and a client that floods offers while another still gets its call.
//!
//! The servers run in tone mode (`--measure-tone-after-ms`: no engines to load), so each test
//! takes seconds. Two client addresses are told apart by binding the client's socket to
//! 127.0.0.1 or 127.0.0.2 (both loopback on Linux); calls are made by a WebRTC caller built on
//! the same stack the server answers with (see `serve_admission/caller.rs`).

#[path = "serve_admission/caller.rs"]
mod caller;

#[path = "support/serve_process.rs"]
mod serve_process;
use serve_process::Server;
use std::net::{IpAddr, SocketAddr};
use std::process::Command;
use std::time::{Duration, Instant};

use caller::Caller;

const PAGE: IpAddr = IpAddr::V4(std::net::Ipv4Addr::new(127, 0, 0, 1));
const OTHER: IpAddr = IpAddr::V4(std::net::Ipv4Addr::new(127, 0, 0, 2));
const THIRD: IpAddr = IpAddr::V4(std::net::Ipv4Addr::new(127, 0, 0, 3));

/// Upper bound of every wait for something the server does on its own (a timeout passing, a
/// call ending): a guard against a hang on a busy machine, not a timing check.
const PATIENCE: Duration = Duration::from_secs(30);

/// `duplex serve` in tone mode on a free loopback port, with `args`.
fn start(args: &[&str]) -> Server {
    let tone = ["--measure-tone-after-ms", "300"];
    serve_process::start(&[&tone[..], args].concat())
}

/// An HTTP answer: status, headers (lower-case names) and body.
#[derive(Debug)]
struct Reply {
    status: u16,
    headers: String,
    body: String,
}

/// Sends `request` (its head without the final blank line, then `body`) over a new connection
/// from `from`; the answer, or `None` when the server closed the connection without one.
async fn exchange(server: &Server, from: IpAddr, head: &str, body: &str) -> Option<Reply> {
    let socket = tokio::net::TcpSocket::new_v4().expect("socket");
    socket.bind(SocketAddr::new(from, 0)).expect("bind");
    let stream = socket.connect(server.addr).await.expect("connect");
    let request = format!(
        "{head}Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    let mut stream = stream.into_std().expect("a std stream");
    stream.set_nonblocking(false).expect("blocking");
    let answer = tokio::task::spawn_blocking(move || {
        use std::io::{Read, Write};
        // A connection closed at once may refuse the write: that is an answer too (none).
        stream.write_all(request.as_bytes()).ok()?;
        let mut answer = Vec::new();
        let _ = stream.read_to_end(&mut answer);
        Some(answer)
    })
    .await
    .expect("the exchange")?;
    let answer = String::from_utf8_lossy(&answer).into_owned();
    let (head, body) = answer.split_once("\r\n\r\n")?;
    let status = head.split_whitespace().nth(1)?.parse().ok()?;
    Some(Reply {
        status,
        headers: head.to_ascii_lowercase(),
        body: body.to_owned(),
    })
}

/// POSTs `sdp` to /offer from `from`, as the served page does (its own Origin), or without an
/// Origin (a program).
async fn post_offer(server: &Server, from: IpAddr, sdp: &str, with_origin: bool) -> Reply {
    let host = server.addr;
    let origin = if with_origin {
        format!("Origin: http://{host}\r\n")
    } else {
        String::new()
    };
    let head = format!(
        "POST /offer HTTP/1.1\r\nHost: {host}\r\n{origin}Content-Type: application/sdp\r\n"
    );
    exchange(server, from, &head, sdp)
        .await
        .expect("an answer to the offer")
}

/// GETs `path` with this Host header.
async fn get(server: &Server, path: &str, host: &str) -> Reply {
    let head = format!("GET {path} HTTP/1.1\r\nHost: {host}\r\n");
    exchange(server, PAGE, &head, "").await.expect("an answer")
}

async fn health(server: &Server) -> serde_json::Value {
    let reply = get(server, "/health", &server.addr.to_string()).await;
    assert_eq!(reply.status, 200, "{reply:?}");
    serde_json::from_str(&reply.body).expect("JSON")
}

async fn metrics(server: &Server) -> String {
    let reply = get(server, "/metrics", &server.addr.to_string()).await;
    assert_eq!(reply.status, 200, "{reply:?}");
    reply.body
}

/// Waits (up to [`PATIENCE`]) until /health satisfies `check`; its last answer.
async fn wait_health(
    server: &Server,
    check: impl Fn(&serde_json::Value) -> bool,
) -> serde_json::Value {
    let started = Instant::now();
    loop {
        let h = health(server).await;
        if check(&h) || started.elapsed() > PATIENCE {
            return h;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// A caller from `from` whose offer is answered and who connects.
async fn call(server: &Server, from: IpAddr) -> Caller {
    let mut caller = Caller::new().await;
    let reply = post_offer(server, from, &caller.offer, true).await;
    assert_eq!(reply.status, 200, "{reply:?}");
    caller.answer(&reply.body).await;
    assert!(caller.connected(PATIENCE).await, "the call connected");
    caller
}

/// A refusal: its status, and the words of the reason the page shows.
fn assert_refused(reply: &Reply, status: u16, words: &str) {
    assert_eq!(reply.status, status, "{reply:?}");
    assert!(reply.body.contains(words), "{words:?} in {reply:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pending_offers_take_no_call_slot_are_capped_and_freed_at_the_connect_timeout() {
    let server = start(&["--max-pending-offers", "3", "--connect-timeout-ms", "1500"]);
    let offer = Caller::new().await.offer;
    // One address may hold all pending places but one.
    for _ in 0..2 {
        assert_eq!(post_offer(&server, OTHER, &offer, true).await.status, 200);
    }
    let third = post_offer(&server, OTHER, &offer, true).await;
    assert_refused(&third, 429, "2 calls being set up");
    assert!(third.headers.contains("retry-after: "), "{third:?}");
    // Another address gets the last place; then the server has none.
    assert_eq!(post_offer(&server, PAGE, &offer, true).await.status, 200);
    assert_refused(
        &post_offer(&server, PAGE, &offer, true).await,
        503,
        "3 calls are being set up right now",
    );
    let h = health(&server).await;
    assert_eq!(
        (h["pending"].as_u64(), h["sessions"].as_u64()),
        (Some(3), Some(0)),
        "{h}"
    );
    // None connects: each is dropped at the connect timeout and its place freed.
    let h = wait_health(&server, |h| h["pending"] == 0).await;
    assert_eq!(h["pending"], 0, "{h}");
    assert_eq!(post_offer(&server, OTHER, &offer, true).await.status, 200);
    let text = metrics(&server).await;
    for line in [
        "duplex_offers_refused_total{reason=\"client_pending_full\"} 1",
        "duplex_offers_refused_total{reason=\"pending_full\"} 1",
        "duplex_offers_not_connected_total 3",
        "duplex_sessions_started_total 0",
    ] {
        assert!(text.contains(line), "{line} in\n{text}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn calls_take_a_slot_on_connecting_and_are_capped_per_address_below_the_global_cap() {
    let server = start(&["--max-sessions", "2", "--max-sessions-per-client", "1"]);
    let first = call(&server, OTHER).await;
    let h = wait_health(&server, |h| h["sessions"] == 1).await;
    assert_eq!(
        (h["sessions"].as_u64(), h["pending"].as_u64()),
        (Some(1), Some(0)),
        "{h}"
    );
    let again = Caller::new().await;
    let refused = post_offer(&server, OTHER, &again.offer, true).await;
    assert_refused(&refused, 429, "this address already runs 1 calls");
    assert!(refused.headers.contains("retry-after: "), "{refused:?}");
    // Another address still gets the last call.
    let second = call(&server, PAGE).await;
    wait_health(&server, |h| h["sessions"] == 2).await;
    // Each address at its share (429 again), and a third one finds the server full.
    assert_refused(
        &post_offer(&server, PAGE, &again.offer, true).await,
        429,
        "this address already runs 1 calls",
    );
    assert_refused(
        &post_offer(&server, THIRD, &again.offer, true).await,
        503,
        "maximum of 2 calls",
    );
    let text = metrics(&server).await;
    assert!(
        text.contains("duplex_offers_refused_total{reason=\"client_full\"} 2"),
        "{text}"
    );
    assert!(
        text.contains("duplex_offers_refused_total{reason=\"full\"} 1"),
        "{text}"
    );
    first.close().await;
    second.close().await;
    let h = wait_health(&server, |h| h["sessions"] == 0).await;
    assert_eq!(h["sessions"], 0, "{h}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_call_ends_at_its_maximum_length_and_its_page_is_told_why() {
    let server = start(&["--max-call-seconds", "2"]);
    let mut caller = call(&server, PAGE).await;
    let mut ending = None;
    while let Some(event) = caller.next_event(PATIENCE).await {
        let event: serde_json::Value = serde_json::from_str(&event).expect("JSON event");
        if let Some(why) = event["ending"].as_str() {
            ending = Some(why.to_owned());
            break;
        }
    }
    assert_eq!(
        ending.as_deref(),
        Some("this call reached its maximum length of 2 seconds")
    );
    let h = wait_health(&server, |h| h["sessions"] == 0).await;
    assert_eq!(h["sessions"], 0, "the call ended: {h}");
    let text = metrics(&server).await;
    assert!(
        text.contains("duplex_calls_at_length_limit_total 1"),
        "{text}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_flooding_offers_holds_only_its_share_and_a_page_still_gets_its_call() {
    let server = std::sync::Arc::new(start(&["--connect-timeout-ms", "3000"]));
    let offer = Caller::new().await.offer;
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    // Four flooders on one address, each sending offers it never connects, back to back.
    let flooders: Vec<_> = (0..4)
        .map(|_| {
            let (server, offer, stop) = (server.clone(), offer.clone(), stop.clone());
            tokio::spawn(async move {
                let mut statuses = Vec::new();
                while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                    statuses.push(post_offer(&server, OTHER, &offer, true).await.status);
                    tokio::time::sleep(Duration::from_millis(10)).await;
                }
                statuses
            })
        })
        .collect();
    // The flood holds its whole share (all pending places but one) ...
    let h = wait_health(&server, |h| h["pending"] == 3).await;
    assert_eq!(h["pending"], 3, "{h}");
    // ... and the page's offer takes the one left, connects and gets its call.
    let page = call(&server, PAGE).await;
    let h = wait_health(&server, |h| h["sessions"] == 1).await;
    assert_eq!(h["sessions"], 1, "{h}");
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let mut statuses = Vec::new();
    for flooder in flooders {
        statuses.extend(flooder.await.expect("flooder"));
    }
    assert!(
        // 429: its share is taken; 503: the page's offer holds the last place.
        statuses.iter().all(|s| [200, 429, 503].contains(s)),
        "{statuses:?}"
    );
    assert!(
        statuses.contains(&429),
        "the flood was refused beyond its share"
    );
    page.close().await;
    wait_health(&server, |h| h["sessions"] == 0 && h["pending"] == 0).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connections_beyond_an_address_share_are_closed_while_others_are_served() {
    let server = start(&["--max-connections-per-client", "4"]);
    // Four connections from one address that send nothing yet.
    let mut held = Vec::new();
    for _ in 0..4 {
        let socket = tokio::net::TcpSocket::new_v4().expect("socket");
        socket.bind(SocketAddr::new(OTHER, 0)).expect("bind");
        held.push(socket.connect(server.addr).await.expect("connect"));
    }
    // Accepted in order: by the time a request on a fifth is answered (or refused) the four
    // are counted.
    let head = format!("GET /health HTTP/1.1\r\nHost: {}\r\n", server.addr);
    let fifth = exchange(&server, OTHER, &head, "").await;
    assert!(
        fifth.is_none(),
        "the fifth was closed unanswered: {fifth:?}"
    );
    // Another address is served.
    assert_eq!(health(&server).await["ok"], true);
    drop(held);
    // The address's share is given back as its connections close.
    let started = Instant::now();
    let answered = loop {
        let reply = exchange(&server, OTHER, &head, "").await;
        if reply.is_some() || started.elapsed() > PATIENCE {
            break reply;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert_eq!(answered.map(|r| r.status), Some(200));
    let text = metrics(&server).await;
    assert!(
        text.contains("duplex_connections_refused_total{reason=\"per_client\"}"),
        "{text}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn health_and_metrics_pass_the_host_check() {
    let server = start(&[]);
    let port = server.addr.port();
    for path in ["/health", "/metrics"] {
        let own = get(&server, path, &server.addr.to_string()).await;
        assert_eq!(own.status, 200, "{path}: {own:?}");
        let local = get(&server, path, &format!("localhost:{port}")).await;
        assert_eq!(local.status, 200, "{path}: {local:?}");
        let rebound = get(&server, path, &format!("evil.example:{port}")).await;
        assert_refused(
            &rebound,
            403,
            "does not answer to the host name \"evil.example\"",
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_offer_without_an_origin_is_refused_unless_programs_are_allowed() {
    let offer = Caller::new().await.offer;
    let server = start(&[]);
    let refused = post_offer(&server, PAGE, &offer, false).await;
    assert_refused(&refused, 403, "--allow-programs");
    assert_eq!(health(&server).await["pending"], 0);
    drop(server);
    let programs = start(&["--allow-programs"]);
    let answered = post_offer(&programs, PAGE, &offer, false).await;
    assert_eq!(answered.status, 200, "{answered:?}");
}

#[test]
fn a_per_client_cap_not_below_the_global_one_is_refused_with_the_fix() {
    let refused = |args: &[&str]| {
        let out = Command::new(env!("CARGO_BIN_EXE_duplex"))
            .args(["serve", "--no-memory", "--measure-tone-after-ms", "300"])
            .args(args)
            .output()
            .expect("run duplex serve");
        assert!(!out.status.success(), "{args:?} was accepted");
        String::from_utf8_lossy(&out.stderr).into_owned()
    };
    // A server other machines reach: the per-client cap must be below the global one.
    let lan = ["--bind", "0.0.0.0:0", "--rtc-ip", "127.0.0.1"];
    let equal = refused(
        &[
            &lan[..],
            &["--max-sessions", "3", "--max-sessions-per-client", "3"],
        ]
        .concat(),
    );
    assert!(
        equal.contains("--max-sessions-per-client 2 or less"),
        "{equal}"
    );
    let single = refused(&[&lan[..], &["--max-sessions", "1"]].concat());
    assert!(single.contains("--max-sessions 2 or more"), "{single}");
    let above = refused(
        &[
            &lan[..],
            &["--max-sessions", "2", "--max-sessions-per-client", "3"],
        ]
        .concat(),
    );
    assert!(
        above.contains("would let one address hold every call"),
        "{above}"
    );
    let pending = refused(&["--bind", "127.0.0.1:0", "--max-pending-offers", "1"]);
    assert!(
        pending.contains("--max-pending-offers must be at least 2"),
        "{pending}"
    );
}
