//! End-to-end tests of `duplex serve` with a real headless Chromium (driven by playwright-core
//! from tests/browser/), inside a loopback-only network namespace: the fake microphone plays a
//! fixture (padded with silence: Chromium repeats a file's last buffer once it ends), the page
//! must show the fixture's words as the user's transcript, hear a non-silent spoken reply and
//! time it, and the server must free each session once its tab is closed or its network drops.
//!
//! Needs chromium, node and the pinned playwright-core (`bash scripts/setup_test_deps.sh`).
//! When they are missing the tests fail, naming that script, unless DUPLEX_SKIP_BROWSER_TESTS=1.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Mutex;

use duplex::audio::{PIPELINE_RATE, load_pipeline_audio, wav::write_wav};
use duplex::fixtures::fixture_path;
use duplex::wer::word_errors;
use serde_json::Value;

/// One scenario at a time: each runs the whole pipeline per call on a small machine.
static SERIAL: Mutex<()> = Mutex::new(());

// A question without long inner pauses: the agent answers once, after all of it.
const QUESTION_FIXTURE: &str = "goforward.wav";
const QUESTION_REFERENCE: &str = "go forward ten meters";
const SHORT_FIXTURE: &str = "sense_and_sensibility_01_austen_64kb-0930.wav";
const SHORT_REFERENCE: &str = "he might even have been made amiable himself";

fn repo() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn missing_tools() -> Vec<String> {
    let mut missing = Vec::new();
    let chromium = std::env::var("CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".into());
    if !Path::new(&chromium).exists() {
        missing.push(format!("chromium ({chromium})"));
    }
    for tool in ["node", "unshare", "ip"] {
        let found = Command::new("sh")
            .args(["-c", &format!("command -v {tool}")])
            .output()
            .is_ok_and(|o| o.status.success());
        if !found {
            missing.push(tool.to_owned());
        }
    }
    if !repo()
        .join("tests/browser/node_modules/playwright-core")
        .exists()
    {
        missing.push("tests/browser/node_modules/playwright-core".into());
    }
    missing
}

/// Whether to run; panics with the fix when the tools are missing and skipping was not asked.
fn browser_tools_present() -> bool {
    let missing = missing_tools();
    if missing.is_empty() {
        return true;
    }
    if std::env::var("DUPLEX_SKIP_BROWSER_TESTS").as_deref() == Ok("1") {
        eprintln!("browser test skipped (DUPLEX_SKIP_BROWSER_TESTS=1); missing: {missing:?}");
        return false;
    }
    panic!(
        "the browser tests need {missing:?}: run `bash scripts/setup_test_deps.sh` \
         (chromium, nodejs, npm, iproute2 and `npm ci` in tests/browser), \
         or set DUPLEX_SKIP_BROWSER_TESTS=1 to skip them"
    );
}

/// The fixture followed by 2 s of silence, as 16-bit PCM (what the fake microphone reads).
fn padded_fixture(dir: &Path, name: &str) -> PathBuf {
    let mut audio = load_pipeline_audio(&fixture_path(name)).expect("fixture");
    audio.extend(vec![0.0; 2 * PIPELINE_RATE as usize]);
    let path = dir.join(name);
    write_wav(&path, &audio, PIPELINE_RATE).expect("padded fixture");
    path
}

/// The fixture, a pause long enough for the reply, the fixture again, then 2 s of silence.
fn twice_asked_fixture(dir: &Path, name: &str) -> PathBuf {
    let once = load_pipeline_audio(&fixture_path(name)).expect("fixture");
    let mut audio = once.clone();
    audio.extend(vec![0.0; 15 * PIPELINE_RATE as usize]);
    audio.extend(&once);
    audio.extend(vec![0.0; 2 * PIPELINE_RATE as usize]);
    let path = dir.join(name);
    write_wav(&path, &audio, PIPELINE_RATE).expect("twice-asked fixture");
    path
}

fn run_scenario(scenario: &str, fixture: &str) -> Value {
    run_scenario_with(scenario, fixture, padded_fixture)
}

/// Runs `scenario` with the microphone playing what `microphone` makes of `fixture`.
fn run_scenario_with(
    scenario: &str,
    fixture: &str,
    microphone: fn(&Path, &str) -> PathBuf,
) -> Value {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let dir = tempfile::tempdir().expect("temp dir");
    let wav = microphone(dir.path(), fixture);
    let output = Command::new(repo().join("tests/browser/run_in_netns.sh"))
        .args([
            "node",
            "tests/browser/scenario.mjs",
            env!("CARGO_BIN_EXE_duplex"),
            scenario,
        ])
        .arg(&wav)
        .current_dir(repo())
        .output()
        .expect("run the browser scenario");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "scenario {scenario} failed ({}):\n{stderr}\n{stdout}",
        output.status
    );
    let report: Value = serde_json::from_str(stdout.lines().last().unwrap_or(""))
        .unwrap_or_else(|e| panic!("scenario {scenario}: no JSON report ({e}):\n{stdout}"));
    println!("{report}");
    report
}

fn texts(call: &Value, who: &str) -> Vec<String> {
    call["transcript"]
        .as_array()
        .expect("transcript")
        .iter()
        .filter(|l| l["who"] == who)
        .map(|l| l["text"].as_str().unwrap_or("").to_owned())
        .collect()
}

/// The page showed the fixture's words, showed a reply, heard it, and timed it.
fn assert_answered(call: &Value, reference: &str) {
    // The words may be shown as one line, or re-transcribed into a fuller later line, or split
    // over two turns at a long pause: the best of each line and all lines together must match.
    let user = texts(call, "user");
    assert!(!user.is_empty(), "a user line in the transcript");
    let mut candidates = user.clone();
    candidates.push(user.join(" "));
    let (heard, (errors, words)) = candidates
        .iter()
        .map(|h| (h, word_errors(reference, h)))
        .min_by_key(|(_, (e, _))| *e)
        .expect("candidates");
    assert!(
        errors * 5 <= words,
        "transcript {heard:?} vs {reference:?}: {errors} errors in {words} words"
    );
    let agent = texts(call, "agent");
    assert!(
        agent.iter().any(|t| !t.trim().is_empty()),
        "an agent line with text: {agent:?}"
    );
    assert!(
        call["remotePeak"].as_f64().unwrap() > 0.1,
        "reply is not silent"
    );
    // At least 0.1 s of reply samples above the threshold at 48 kHz.
    assert!(call["remoteLoudSamples"].as_u64().unwrap() > 4_800);
    let latencies = call["latenciesMs"].as_array().expect("latencies");
    assert!(!latencies.is_empty(), "the page timed the reply");
    assert!(latencies.iter().all(|l| l.as_f64().unwrap() > 0.0));
}

fn assert_server_healthy(report: &Value) {
    assert!(
        report["freedMs"].is_u64(),
        "sessions freed after the tabs closed"
    );
    assert_eq!(report["healthAfter"]["sessions"], 0);
    assert_eq!(report["serverExit"], 0, "the server shut down cleanly");
}

#[test]
fn a_browser_asks_and_hears_a_spoken_reply() {
    if !browser_tools_present() {
        return;
    }
    let report = run_scenario("single", QUESTION_FIXTURE);
    assert_eq!(report["sessionsDuring"], 1);
    assert_answered(&report["calls"][0], QUESTION_REFERENCE);
    assert_server_healthy(&report);
}

#[test]
fn two_concurrent_browser_sessions_are_both_answered() {
    if !browser_tools_present() {
        return;
    }
    let report = run_scenario("concurrent", SHORT_FIXTURE);
    assert_eq!(report["sessionsDuring"], 2);
    for call in report["calls"].as_array().unwrap() {
        assert_answered(call, SHORT_REFERENCE);
    }
    assert_server_healthy(&report);
}

#[test]
fn calls_take_their_media_ports_from_the_rtc_ports_range_and_give_them_back() {
    if !browser_tools_present() {
        return;
    }
    let report = run_scenario("rtc-ports", SHORT_FIXTURE);
    assert_eq!(report["sessionsDuring"], 2);
    for call in report["calls"].as_array().unwrap() {
        assert_answered(call, SHORT_REFERENCE);
    }
    let ports: Vec<u64> = report["mediaPorts"]
        .as_array()
        .expect("the media ports from the server log")
        .iter()
        .filter_map(Value::as_u64)
        .collect();
    assert_eq!(ports.len(), 3, "three calls, three ports: {ports:?}");
    let mut first_two = ports[..2].to_vec();
    first_two.sort_unstable();
    assert_eq!(
        first_two,
        [50000, 50001],
        "two calls at once, one port each"
    );
    assert!(
        (50000..=50001).contains(&ports[2]),
        "the third call reuses a port given back: {ports:?}"
    );
    assert_server_healthy(&report);
}

#[test]
fn a_tab_closed_mid_reply_frees_its_session_and_the_other_is_answered() {
    if !browser_tools_present() {
        return;
    }
    let report = run_scenario("close-mid-reply", SHORT_FIXTURE);
    assert!(report["closedState"]["remoteLoudSamples"].as_u64().unwrap() > 0);
    assert!(
        report["firstFreedMs"].is_u64(),
        "the closed tab's session ended"
    );
    assert_eq!(report["sessionsDuring"], 1);
    assert_answered(&report["calls"][0], SHORT_REFERENCE);
    assert_server_healthy(&report);
}

#[test]
fn a_network_drop_ends_the_session_on_its_own() {
    if !browser_tools_present() {
        return;
    }
    let report = run_scenario("network-drop", SHORT_FIXTURE);
    assert_eq!(report["sessionsDuring"], 1);
    // Checked right after the network comes back: the server had already ended the session.
    assert!(
        report["freedMs"].as_u64().is_some_and(|ms| ms < 2_000),
        "{report}"
    );
    assert_eq!(report["healthAfter"]["sessions"], 0);
    assert_eq!(report["serverExit"], 0);
}

#[test]
fn a_page_from_another_origin_cannot_start_a_call_and_the_real_page_can() {
    if !browser_tools_present() {
        return;
    }
    let report = run_scenario("cross-origin", SHORT_FIXTURE);
    let attempts = report["foreignAttempts"].as_array().expect("attempts");
    assert_eq!(attempts.len(), 8, "{report}");
    // The preflighted request never reaches the server's handler: the browser refuses it.
    for attempt in attempts.iter().filter(|a| a["kind"] == "sdp") {
        assert_eq!(attempt["sent"], false, "{report}");
    }
    assert_eq!(report["sessionsAfterForeign"], 0, "{report}");
    let refused = report["serverLog"]
        .as_array()
        .expect("log")
        .iter()
        .filter(|l| l.as_str().is_some_and(|l| l.contains("offer refused")))
        .count();
    assert!(refused >= 4, "the simple requests were refused: {report}");
    assert_eq!(report["sessionsDuring"], 1, "{report}");
    assert_eq!(report["healthAfter"]["sessions"], 0);
    assert_eq!(report["serverExit"], 0);
}

#[test]
fn a_browser_on_the_lan_talks_over_https_with_a_self_signed_certificate() {
    if !browser_tools_present() {
        return;
    }
    let report = run_scenario("https-lan", SHORT_FIXTURE);
    let url = report["url"].as_str().expect("url");
    assert!(url.starts_with("https://10.7.0.1:"), "{report}");
    // Not localhost: the microphone is given only because the page is served over HTTPS.
    assert_eq!(report["secureContext"], true, "{report}");
    assert!(
        report["fingerprint"]
            .as_str()
            .is_some_and(|f| f.len() == 95),
        "the fingerprint is printed: {report}"
    );
    assert_eq!(report["sessionsDuring"], 1);
    assert_answered(&report["calls"][0], SHORT_REFERENCE);
    assert_eq!(report["healthAfter"]["sessions"], 0);
    assert_eq!(report["serverExit"], 0);
}

#[test]
fn a_killed_brain_is_restarted_and_the_next_question_answered() {
    if !browser_tools_present() {
        return;
    }
    let report = run_scenario_with("brain-restart", SHORT_FIXTURE, twice_asked_fixture);
    let killed = report["killedWorkers"].as_array().expect("killed workers");
    assert_eq!(killed.len(), 1, "one LLM worker for the one session");
    let call = &report["calls"][0];
    // The page told the user, in words, and the second question got a spoken answer.
    assert!(call["restarts"].as_u64() >= Some(1), "{call}");
    let replies = call["agentTexts"].as_array().expect("agent texts").len();
    assert!(replies >= 2, "a reply after the restart: {call}");
    let told = call["transcript"]
        .as_array()
        .expect("transcript")
        .iter()
        .any(|l| {
            l["text"]
                .as_str()
                .unwrap_or("")
                .contains("restarted its brain")
        });
    assert!(told, "the page says the brain restarted: {call}");
    assert!(
        call["firstAudio"].as_u64() >= Some(2),
        "both replies were heard: {call}"
    );
    let metrics = report["metrics"].as_str().expect("metrics");
    assert!(
        metrics.contains("duplex_engine_failures_total{severity=\"recovered\"} 1"),
        "{metrics}"
    );
    assert_server_healthy(&report);
}

// A sentence of 22 words without long pauses: one word more misheard is 4.5 points of WER.
const LOSSY_FIXTURE: &str = "sense_and_sensibility_01_austen_64kb-0870.wav";
const LOSSY_REFERENCE: &str = "and mister john dashwood had then leisure to consider how much \
                               there might be prudently in his power to do for them";

/// The word error rate of all the user's lines of `call` together.
fn user_word_error_rate(call: &Value, reference: &str) -> f64 {
    let (errors, words) = word_errors(reference, &texts(call, "user").join(" "));
    errors as f64 / words as f64
}

#[test]
fn a_call_over_a_lossy_jittery_network_is_understood_as_well_as_over_a_clean_one() {
    if !browser_tools_present() {
        return;
    }
    let report = run_scenario("lossy", LOSSY_FIXTURE);
    let (clean, lossy) = (&report["lossless"], &report["lossy"]);
    assert_answered(&clean["call"], LOSSY_REFERENCE);
    assert_answered(&lossy["call"], LOSSY_REFERENCE);
    let clean_wer = user_word_error_rate(&clean["call"], LOSSY_REFERENCE);
    let lossy_wer = user_word_error_rate(&lossy["call"], LOSSY_REFERENCE);
    // The server's counters are totals: the lossy call's are the difference.
    let total = |run: &Value, name: &str| run["counters"][name].as_u64().unwrap_or(0);
    let lossy_count = |name: &str| total(lossy, name) - total(clean, name);
    let received = lossy_count("rtp_packets_received_total");
    let lost = lossy_count("rtp_packets_lost_total");
    let fec = lossy_count("rtp_packets_recovered_total_fec");
    let plc = lossy_count("rtp_packets_recovered_total_plc");
    let jitter = lossy_count("rtp_packets_reordered_total") + lossy_count("rtp_packets_late_total");
    println!(
        "WER clean {clean_wer:.3}, lossy {lossy_wer:.3}; lossy call: {received} packets, \
         {lost} lost ({fec} FEC, {plc} PLC), {jitter} reordered or late"
    );
    assert!(
        lossy_wer <= clean_wer + 0.05,
        "WER {lossy_wer:.3} under loss, {clean_wer:.3} without: {report}"
    );
    let clean_lost = total(clean, "rtp_packets_lost_total");
    let clean_received = total(clean, "rtp_packets_received_total");
    assert!(clean_received > 100, "{report}");
    assert!(
        clean_lost * 100 <= clean_received,
        "the loopback lost packets: {report}"
    );
    // 5 % simulated: over several hundred packets, well within 2-10 %.
    assert!(received > 200, "{report}");
    assert!(
        (2 * received..=10 * received).contains(&(lost * 100)),
        "{lost} of {received} lost: {report}"
    );
    assert_eq!(
        fec + plc,
        lost,
        "each lost packet rebuilt or concealed: {report}"
    );
    assert!(
        jitter > 0,
        "the simulated jitter reordered packets: {report}"
    );
    assert_server_healthy(&report);
}

#[test]
fn a_page_gets_its_call_while_another_address_floods_offers() {
    if !browser_tools_present() {
        return;
    }
    let report = run_scenario("flooded", SHORT_FIXTURE);
    let statuses = &report["floodStatuses"];
    // The flood got the pending places of its share (all but one), and was refused beyond it
    // (429; 503 once the page's call holds the server's one slot).
    assert!(statuses["200"].as_u64() >= Some(3), "{report}");
    assert!(statuses["429"].as_u64() > Some(0), "{report}");
    assert_answered(&report["calls"][0], SHORT_REFERENCE);
    assert_eq!(report["healthWhileFlooded"]["sessions"], 1, "{report}");
    // The server's one slot taken (by this address: on a loopback bind its share is all of
    // them), a second page shows the server's own reason.
    let refused = &report["refusedPage"];
    let reason = "server refused the call (429): this address already runs 1 calls";
    assert!(
        refused["error"]
            .as_str()
            .is_some_and(|e| e.starts_with(reason)),
        "{report}"
    );
    let shown = refused["transcript"].as_array().expect("transcript");
    assert!(
        shown
            .iter()
            .any(|l| l["text"].as_str().is_some_and(|t| t.starts_with(reason))),
        "the reason is a line of the page: {report}"
    );
    assert_server_healthy(&report);
    assert_eq!(report["healthAfter"]["pending"], 0, "{report}");
}

/// 10 s of silence: a microphone that never speaks (the goodbye is the only voice heard).
fn silent_microphone(dir: &Path, _fixture: &str) -> PathBuf {
    let path = dir.join("silence.wav");
    write_wav(
        &path,
        &vec![0.0; 10 * PIPELINE_RATE as usize],
        PIPELINE_RATE,
    )
    .expect("silence");
    path
}

#[test]
fn a_call_at_its_maximum_length_ends_with_a_spoken_goodbye_and_the_page_says_why() {
    if !browser_tools_present() {
        return;
    }
    let report = run_scenario_with("max-length", SHORT_FIXTURE, silent_microphone);
    let call = &report["calls"][0];
    let why = "this call reached its maximum length of 5 seconds";
    assert_eq!(call["ended"], why, "{report}");
    assert_eq!(call["status"], format!("ended: {why}"), "{report}");
    assert_eq!(call["live"], false, "the page hung up: {report}");
    assert!(
        call["agentTexts"].as_array().is_some_and(|t| t.is_empty()),
        "no reply: {report}"
    );
    // The goodbye was heard after the page was told (at least 0.5 s of voice at 48 kHz).
    let loud = call["remoteLoudSamples"].as_u64().expect("loud samples");
    assert!(
        loud > report["loudWhenTold"].as_u64().unwrap_or(0) + 24_000,
        "{report}"
    );
    let metrics = report["metrics"].as_str().expect("metrics");
    assert!(
        metrics.contains("duplex_calls_at_length_limit_total 1"),
        "{metrics}"
    );
    assert!(report["freedMs"].is_u64(), "{report}");
    assert_eq!(report["serverExit"], 0);
}

#[test]
fn an_offer_that_never_connects_takes_no_engines() {
    if !browser_tools_present() {
        return;
    }
    let report = run_scenario("unconnected-offer", SHORT_FIXTURE);
    assert_eq!(report["answerStatus"], 200, "{report}");
    let health = &report["healthWhileUnconnected"];
    assert_eq!(health["pending"], 1, "answered and waiting: {report}");
    assert_eq!(health["sessions"], 0, "no call slot taken: {report}");
    assert_eq!(
        health["spare_engines_ready"], true,
        "the spare engines were not taken: {report}"
    );
    assert_eq!(
        report["workersBefore"], 1,
        "the spare's LLM worker: {report}"
    );
    assert_eq!(
        report["workersWhileUnconnected"], 1,
        "no LLM worker started for the unconnected offer: {report}"
    );
    assert!(
        report["freedMs"].is_u64(),
        "its connect timeout ended it: {report}"
    );
    assert_eq!(report["serverExit"], 0);
}
