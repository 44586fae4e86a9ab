//! The memory between calls (issue 27), end to end with the real store and the real default
//! brain: it survives a restart of `duplex chat`, a spoken or typed forget leaves no trace in the
//! database's bytes, `--no-memory` (and `[memory] enabled = false`) writes nothing, two browsers'
//! profiles stay apart, and a damaged or locked database gives one clear error while the chat
//! still answers. Without a model: a turn the user went on from is not kept twice, and a spoken
//! forget is carried out and confirmed without the model.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::{Mutex, MutexGuard};

use duplex::cancel::CancelToken;
use duplex::llm::{
    ChatMessage, Conversation, EventSource, Finish, FinishReason, LlmBackend, LlmError, LlmEvent,
    Sampling, TokenStream, TurnManager,
};
use duplex::profile::{MemoryConfig, Profile, Store, web_profile};

/// One chat at a time: on 2 cores, parallel LLM workers slow each other down many times over.
static SERIAL: Mutex<()> = Mutex::new(());

fn serial() -> MutexGuard<'static, ()> {
    SERIAL.lock().unwrap_or_else(|p| p.into_inner())
}

/// The default brain's model, which must have been fetched.
fn require_model() {
    let model = duplex::config::Config::default()
        .llm_model_path()
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(
        model.is_file(),
        "{} is missing: run bash scripts/setup.sh (or python3 scripts/fetch_models.py)",
        model.display()
    );
}

struct Run {
    stdout: String,
    stderr: String,
}

/// Runs `duplex [args...]` with `input` on stdin, from the repository root (where the models
/// are), with `HOME` and `XDG_DATA_HOME` moved away so that nothing can reach the real ones.
fn duplex(home: &Path, args: &[&str], input: &str) -> Run {
    let mut child = Command::new(env!("CARGO_BIN_EXE_duplex"))
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .env("HOME", home)
        .env("XDG_DATA_HOME", home.join("xdg"))
        .env_remove("DUPLEX_DATA_DIR")
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("running duplex");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(input.as_bytes())
        .expect("writing to duplex");
    let out = child.wait_with_output().expect("duplex's output");
    let run = Run {
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    };
    eprintln!("duplex {args:?}:\n{}\n{}", run.stdout, run.stderr);
    assert!(
        out.status.success(),
        "duplex {args:?} failed: {}",
        run.stderr
    );
    run
}

/// `duplex chat` on `data` (greedy, short replies), the lines of `input` as turns.
fn chat(home: &Path, data: &Path, input: &str) -> Run {
    require_model();
    let data = data.to_str().expect("a UTF-8 path");
    duplex(
        home,
        &[
            "chat",
            "--data-dir",
            data,
            "--temperature",
            "0",
            "--max-tokens",
            "40",
        ],
        input,
    )
}

/// Every memory in `data`, as `duplex memory export` writes them.
fn export(home: &Path, data: &Path) -> Vec<serde_json::Value> {
    let run = duplex(
        home,
        &["memory", "export", "--data-dir", data.to_str().unwrap()],
        "",
    );
    let json: serde_json::Value = serde_json::from_str(&run.stdout).expect("export is JSON");
    json["memories"]
        .as_array()
        .expect("a list of memories")
        .clone()
}

/// Whether any file in `dir` holds `needle` (ASCII, any case) in its bytes.
fn bytes_hold(dir: &Path, needle: &str) -> Vec<PathBuf> {
    let needle = needle.to_ascii_lowercase().into_bytes();
    std::fs::read_dir(dir)
        .expect("the data directory")
        .map(|e| e.expect("an entry").path())
        .filter(|p| p.is_file())
        .filter(|p| {
            let bytes = std::fs::read(p)
                .expect("a readable file")
                .to_ascii_lowercase();
            bytes.windows(needle.len()).any(|w| w == needle)
        })
        .collect()
}

fn mode(path: &Path) -> u32 {
    std::fs::metadata(path)
        .expect("exists")
        .permissions()
        .mode()
        & 0o777
}

#[test]
fn memory_survives_a_restart_of_chat() {
    let _serial = serial();
    let home = tempfile::tempdir().unwrap();
    let data = home.path().join("data");
    chat(home.path(), &data, "Hi! My dog is called Biscuit.\n");
    let memories = export(home.path(), &data);
    let fact = memories
        .iter()
        .find(|m| m["kind"] == "fact")
        .expect("a fact was kept");
    assert_eq!(fact["text"], "My dog is called Biscuit.");
    assert_eq!(fact["said"], "My dog is called Biscuit.");
    assert_eq!(fact["profile"], "local");
    assert!(fact["at"].as_i64().unwrap() > 1_700_000_000, "{fact}");
    let summary = memories
        .iter()
        .find(|m| m["kind"] == "call")
        .expect("the call's summary was kept");
    assert!(
        summary["text"].as_str().unwrap().contains("told 1 thing"),
        "{summary}"
    );
    // Owner only.
    assert_eq!(mode(&data), 0o700);
    for entry in std::fs::read_dir(&data).unwrap() {
        let path = entry.unwrap().path();
        assert_eq!(mode(&path), 0o600, "{}", path.display());
    }

    // Asked for something only the remembered fact supplies, never a copy of the user's words:
    // the letter the dog's name starts with.
    let second = chat(
        home.path(),
        &data,
        "What letter does my dog's name start with?\n",
    );
    let says_b = second
        .stdout
        .split(|c: char| !c.is_alphanumeric())
        .any(|w| w.eq_ignore_ascii_case("b"));
    assert!(says_b, "{}", second.stdout);
}

#[test]
fn forget_removes_a_fact_from_queries_and_from_the_files() {
    let _serial = serial();
    let home = tempfile::tempdir().unwrap();
    let data = home.path().join("data");
    chat(
        home.path(),
        &data,
        "My sister is called Quenby.\nMy dog is called Zorblax.\n",
    );
    assert!(
        !bytes_hold(&data, "zorblax").is_empty(),
        "kept in the database"
    );
    let spoken = chat(home.path(), &data, "Forget what I told you about my dog.\n");
    assert!(
        spoken
            .stdout
            .contains("I have forgotten what you told me about your dog"),
        "{}",
        spoken.stdout
    );
    let texts: Vec<String> = export(home.path(), &data)
        .iter()
        .map(|m| m["text"].as_str().unwrap().to_owned())
        .collect();
    assert!(texts.iter().all(|t| !t.contains("Zorblax")), "{texts:?}");
    assert!(texts.iter().any(|t| t.contains("Quenby")), "{texts:?}");
    assert_eq!(bytes_hold(&data, "zorblax"), Vec::<PathBuf>::new());

    // By id, from the command line.
    let memories = export(home.path(), &data);
    let sister = memories
        .iter()
        .find(|m| m["text"].as_str().unwrap().contains("Quenby"))
        .unwrap();
    let id = sister["id"].as_i64().unwrap().to_string();
    let d = data.to_str().unwrap();
    duplex(home.path(), &["memory", "forget", &id, "--data-dir", d], "");
    let list = duplex(home.path(), &["memory", "list", "--data-dir", d], "");
    assert!(!list.stdout.contains("Quenby"), "{}", list.stdout);
    assert_eq!(bytes_hold(&data, "quenby"), Vec::<PathBuf>::new());

    duplex(
        home.path(),
        &["memory", "forget", "--all", "--data-dir", d],
        "",
    );
    assert_eq!(export(home.path(), &data), Vec::<serde_json::Value>::new());
}

#[test]
fn no_memory_writes_nothing() {
    let _serial = serial();
    let home = tempfile::tempdir().unwrap();
    let data = home.path().join("data");
    require_model();
    let d = data.to_str().unwrap();
    let said = "My dog is called Biscuit.\n";
    duplex(
        home.path(),
        &["chat", "--no-memory", "--data-dir", d, "--max-tokens", "8"],
        said,
    );
    let config = home.path().join("duplex.toml");
    std::fs::write(&config, "[memory]\nenabled = false\n").unwrap();
    let c = config.to_str().unwrap();
    duplex(
        home.path(),
        &["chat", "--config", c, "--max-tokens", "8"],
        said,
    );
    assert!(!data.exists(), "--no-memory made {}", data.display());
    let default = home.path().join("xdg/duplex");
    assert!(
        !default.exists(),
        "[memory] enabled = false made {}",
        default.display()
    );
}

#[test]
fn two_browsers_profiles_stay_apart() {
    let data = tempfile::tempdir().unwrap();
    let settings = MemoryConfig::default();
    let (a, b) = (
        web_profile("browser-a-cookie"),
        web_profile("browser-b-cookie"),
    );
    assert_ne!(a, b);
    {
        let first = Profile::open(data.path(), &a, &settings).unwrap();
        let second = Profile::open(data.path(), &b, &settings).unwrap();
        first.said("My dog is called Rex.");
        second.said("My dog is called Fido.");
    }
    let first = Profile::open(data.path(), &a, &settings).unwrap();
    let second = Profile::open(data.path(), &b, &settings).unwrap();
    assert_eq!(first.recent_facts(), ["My dog is called Rex."]);
    assert_eq!(second.recent_facts(), ["My dog is called Fido."]);
    let query = duplex::profile::recall::recall_query("What did I tell you about my dog?").unwrap();
    assert_eq!(second.recall(&query), ["My dog is called Fido."]);
    drop((first, second));
    let store = Store::open(data.path(), false).unwrap().unwrap();
    let of_a = store.list(Some(&a)).unwrap();
    assert!(
        of_a.iter()
            .all(|m| m.profile == a && !m.text.contains("Fido")),
        "{of_a:?}"
    );
}

/// One HTTP/1.1 request to `addr`; the status, the headers (lower-case names) and the body.
fn http(addr: &str, request: &str) -> (u16, Vec<(String, String)>, String) {
    let mut stream = TcpStream::connect(addr).expect("connecting to duplex serve");
    stream
        .write_all(request.as_bytes())
        .expect("sending a request");
    let mut answer = String::new();
    stream
        .read_to_string(&mut answer)
        .expect("reading the answer");
    let (head, body) = answer.split_once("\r\n\r\n").expect("an HTTP answer");
    let mut lines = head.lines();
    let status = lines
        .next()
        .unwrap()
        .split(' ')
        .nth(1)
        .unwrap()
        .parse()
        .unwrap();
    let headers = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(n, v)| (n.trim().to_ascii_lowercase(), v.trim().to_owned()))
        .collect();
    (status, headers, body.to_owned())
}

fn get(addr: &str, path: &str, cookie: &str) -> (u16, Vec<(String, String)>, String) {
    http(
        addr,
        &format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\n{cookie}Connection: close\r\n\r\n"),
    )
}

fn forget_over_http(addr: &str, cookie: &str, kind: &str, origin: &str, body: &str) -> u16 {
    let request = format!(
        "POST /memory/forget HTTP/1.1\r\nHost: {addr}\r\nOrigin: {origin}\r\n{cookie}\
         Content-Type: {kind}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    http(addr, &request).0
}

/// The texts `GET /memory` lists for the browser with `cookie`.
fn listed(addr: &str, cookie: &str) -> Vec<String> {
    let (status, _, body) = get(addr, "/memory", cookie);
    assert_eq!(status, 200, "{body}");
    let json: serde_json::Value = serde_json::from_str(&body).expect("JSON");
    json["memories"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["text"].as_str().unwrap().to_owned())
        .collect()
}

#[test]
fn two_browsers_profiles_stay_apart_over_http() {
    let home = tempfile::tempdir().unwrap();
    let data = home.path().join("data");
    // The measurement tone answers calls: no model is loaded, the memory routes are the same.
    let mut server = Command::new(env!("CARGO_BIN_EXE_duplex"))
        .env("HOME", home.path())
        .args([
            "serve",
            "--bind",
            "127.0.0.1:0",
            "--measure-tone-after-ms",
            "300",
        ])
        .args(["--data-dir", data.to_str().unwrap()])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("starting duplex serve");
    let stdout = BufReader::new(server.stdout.take().unwrap());
    let addr = stdout
        .lines()
        .map(|l| l.expect("serve's output"))
        .find_map(|l| {
            l.split("listening on http://")
                .nth(1)
                .map(|a| a.trim_end_matches('/').to_owned())
        })
        .expect("serve says where it listens");

    // Each browser's first visit gets its own id, in a cookie scripts and other sites never see.
    let ids: Vec<String> = (0..2)
        .map(|_| {
            let (status, headers, _) = get(&addr, "/", "");
            assert_eq!(status, 200);
            let cookie = &headers.iter().find(|(n, _)| n == "set-cookie").unwrap().1;
            assert!(
                cookie.contains("HttpOnly") && cookie.contains("SameSite=Strict"),
                "{cookie}"
            );
            let id = cookie
                .split(';')
                .next()
                .unwrap()
                .strip_prefix("duplex_profile=")
                .unwrap();
            id.to_owned()
        })
        .collect();
    assert_ne!(ids[0], ids[1]);
    let settings = MemoryConfig::default();
    for (id, fact) in ids
        .iter()
        .zip(["My dog is called Rex.", "My cat is called Tom."])
    {
        Profile::open(&data, &web_profile(id), &settings)
            .unwrap()
            .said(fact);
    }
    let (a, b) = (
        format!("Cookie: duplex_profile={}\r\n", ids[0]),
        format!("Cookie: duplex_profile={}\r\n", ids[1]),
    );
    let of_a = listed(&addr, &a);
    assert!(
        of_a.contains(&"My dog is called Rex.".to_owned()),
        "{of_a:?}"
    );
    assert!(of_a.iter().all(|t| !t.contains("Tom")), "{of_a:?}");
    assert!(listed(&addr, &b).iter().all(|t| !t.contains("Rex")));
    assert_eq!(
        listed(&addr, ""),
        Vec::<String>::new(),
        "no cookie, no memory"
    );

    // B cannot forget A's memories, another site cannot ask, and a form post is refused.
    let store = Store::open(&data, false).unwrap().unwrap();
    let rex = store.list(Some(&web_profile(&ids[0]))).unwrap();
    let rex = rex.iter().find(|m| m.text.contains("Rex")).unwrap().id;
    let own = format!("http://{addr}");
    let by_id = format!("{{\"id\": {rex}}}");
    assert_eq!(
        forget_over_http(&addr, &b, "application/json", &own, &by_id),
        404
    );
    let evil = "https://evil.example";
    assert_eq!(
        forget_over_http(&addr, &a, "application/json", evil, &by_id),
        403
    );
    assert_eq!(forget_over_http(&addr, &a, "text/plain", &own, &by_id), 415);
    assert!(listed(&addr, &a).contains(&"My dog is called Rex.".to_owned()));
    assert_eq!(
        forget_over_http(&addr, &a, "application/json", &own, &by_id),
        200
    );
    assert!(listed(&addr, &a).iter().all(|t| !t.contains("Rex")));
    let all = r#"{"all": true}"#;
    assert_eq!(
        forget_over_http(&addr, &a, "application/json", &own, all),
        200
    );
    assert_eq!(listed(&addr, &a), Vec::<String>::new());
    assert!(listed(&addr, &b).contains(&"My cat is called Tom.".to_owned()));
    server.kill().unwrap();
    server.wait().unwrap();
}

/// A chat on `data` says once what is wrong with its memory database (with each of `words`),
/// and still answers.
fn answers_with_one_memory_error(home: &Path, data: &Path, words: &[&str]) {
    let run = chat(home, data, "What is the capital of France?\n");
    let errors: Vec<&str> = run
        .stderr
        .lines()
        .filter(|l| l.contains("memory database"))
        .collect();
    assert_eq!(errors.len(), 1, "{}", run.stderr);
    for word in words {
        assert!(errors[0].contains(word), "{word:?} not in {}", errors[0]);
    }
    assert!(
        errors[0].contains("goes on without memory"),
        "{}",
        errors[0]
    );
    assert!(run.stdout.contains("Paris"), "{}", run.stdout);
}

#[test]
fn a_damaged_database_gives_one_clear_error_and_the_chat_answers() {
    let _serial = serial();
    let home = tempfile::tempdir().unwrap();
    let data = home.path().join("data");
    std::fs::create_dir_all(&data).unwrap();
    let db = data.join("memory.db");
    std::fs::write(
        &db,
        b"this is not a database, it was damaged on the way".repeat(200),
    )
    .unwrap();
    let db = db.display().to_string();
    answers_with_one_memory_error(home.path(), &data, &[&db, "damaged", "memory forget --all"]);

    let d = data.to_str().unwrap();
    let removed = duplex(
        home.path(),
        &["memory", "forget", "--all", "--data-dir", d],
        "",
    );
    assert!(removed.stdout.contains("removed"), "{}", removed.stdout);
    chat(home.path(), &data, "My dog is called Biscuit.\n");
    assert_eq!(
        export(home.path(), &data).len(),
        2,
        "a fact and a summary, in a new store"
    );
}

#[test]
fn a_locked_database_gives_one_clear_error_and_the_chat_answers() {
    let _serial = serial();
    let home = tempfile::tempdir().unwrap();
    let data = home.path().join("data");
    drop(Store::open(&data, true).unwrap());
    let holder = rusqlite::Connection::open(data.join("memory.db")).unwrap();
    holder
        .execute_batch("PRAGMA locking_mode = EXCLUSIVE; BEGIN EXCLUSIVE;")
        .unwrap();
    answers_with_one_memory_error(home.path(), &data, &["locked", "move the file away"]);
    drop(holder);
}

/// A backend that records every prompt and answers "Okay." (the turn manager's memory logic,
/// without a model).
struct Recording(std::sync::Arc<Mutex<Vec<Vec<ChatMessage>>>>);

struct Okay(bool);
impl EventSource for Okay {
    fn next_event(&mut self) -> Result<LlmEvent, LlmError> {
        if std::mem::replace(&mut self.0, true) {
            return Ok(LlmEvent::Done(Finish {
                reason: FinishReason::Stop,
                delivered_tokens: 1,
                worker: None,
            }));
        }
        Ok(LlmEvent::Token("Okay.".to_owned()))
    }
}

impl LlmBackend for Recording {
    fn describe(&self) -> String {
        "recording test backend".into()
    }
    fn generate(
        &mut self,
        messages: &[ChatMessage],
        _: &Sampling,
        _: &CancelToken,
    ) -> Result<TokenStream<'_>, LlmError> {
        self.0.lock().unwrap().push(messages.to_vec());
        Ok(TokenStream::new(Okay(false)))
    }
}

/// A turn manager on the profile `local` of `data`, and the prompts its backend was given.
fn recorded_call(data: &Path) -> (TurnManager, std::sync::Arc<Mutex<Vec<Vec<ChatMessage>>>>) {
    let prompts = std::sync::Arc::default();
    let mut manager = TurnManager::new(
        Box::new(Recording(std::sync::Arc::clone(&prompts))),
        Conversation::new("You are a test.", 4_000),
        Sampling::default(),
    );
    let profile = Profile::open(data, "local", &MemoryConfig::default()).unwrap();
    manager.attach_profile(profile).unwrap();
    (manager, prompts)
}

fn say(manager: &mut TurnManager, text: &str) -> String {
    manager
        .respond(text, &CancelToken::new(), &mut |_| {})
        .expect("a reply")
        .text
}

fn facts(data: &Path) -> Vec<String> {
    let store = Store::open(data, false).unwrap().unwrap();
    let all = store.list(Some("local")).unwrap();
    all.into_iter()
        .filter(|m| m.kind == duplex::profile::store::Kind::Fact)
        .map(|m| m.text)
        .collect()
}

#[test]
fn a_call_keeps_what_was_not_retracted_and_forgets_when_asked() {
    let data = tempfile::tempdir().unwrap();
    let (mut call, _) = recorded_call(data.path());
    say(&mut call, "My dog is called Rex.");
    // The user went on before hearing the reply: their words come back whole in the next turn.
    say(&mut call, "And I live in");
    assert!(call.retract());
    say(&mut call, "And I live in Paris near the river.");
    drop(call);
    assert_eq!(
        facts(data.path()),
        ["I live in Paris near the river.", "My dog is called Rex."]
    );

    let (mut call, prompts) = recorded_call(data.path());
    assert!(call.memory().system().contains("\"My dog is called Rex.\""));
    say(&mut call, "What did I tell you about my dog?");
    let asked = prompts.lock().unwrap().last().unwrap().clone();
    assert_eq!(
        asked.iter().filter(|m| m.content.contains("Rex")).count(),
        1,
        "the fact is in the opening block, with no second note: {asked:?}"
    );
    let confirmation = say(&mut call, "Forget what I told you about my dog.");
    assert_eq!(
        confirmation,
        "Done. I have forgotten what you told me about your dog."
    );
    assert_eq!(
        prompts.lock().unwrap().len(),
        1,
        "decided without the model"
    );
    assert_eq!(facts(data.path()), ["I live in Paris near the river."]);
    assert!(!call.memory().system().contains("Rex"));
    assert!(call.memory().turns().all(|t| !t.text.contains("my dog?")));
    say(&mut call, "Forget everything.");
    drop(call);
    let store = Store::open(data.path(), false).unwrap().unwrap();
    assert_eq!(store.list(None).unwrap(), Vec::new(), "no fact, no summary");
}
