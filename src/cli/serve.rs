//! `duplex serve [--bind 127.0.0.1:8080]`: the web page and WebRTC endpoint; one conversation
//! per browser tab.

use std::io::Write;
use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, bail};
use duplex::asr::WhisperModel;
use duplex::config::Config;
use duplex::transport::webrtc::{IceServer, PeerOptions, PortRange};
use duplex::web::profiles::WebMemory;
use duplex::web::spare::SpareEngines;
use duplex::web::tls::TlsSource;
use duplex::web::{
    AdmissionLimits, AppState, OriginPolicy, ReplyMode, ServeOptions, SessionRegistry, serve,
};

/// How long a stopped server waits for its runtime's remaining tasks and blocking threads (a
/// spare engine set whose LLM worker is still prefilling) before the process exits.
const RUNTIME_STOP_WAIT: Duration = Duration::from_millis(500);

/// Arguments of `duplex serve`.
#[derive(clap::Args)]
pub struct ServeArgs {
    /// HTTP address to listen on (loopback by default; port 0 picks a free one).
    #[arg(long, default_value = "127.0.0.1:8080")]
    bind: SocketAddr,
    /// Address for the media (UDP) sockets and the host ICE candidate; defaults to the --bind
    /// address, and is required when that is a wildcard such as 0.0.0.0.
    #[arg(long)]
    rtc_ip: Option<IpAddr>,
    /// UDP ports for the calls' media, LOW-HIGH (e.g. 50000-50099): each call holds one port
    /// of the range, so a firewall or port forward needs to open only these. Default: any free
    /// port. A call that finds every port taken is refused with 503.
    #[arg(long, value_name = "LOW-HIGH")]
    rtc_ports: Option<String>,
    /// A STUN or TURN server URL for ICE (repeatable), e.g. stun:stun.example.org:3478.
    #[arg(long = "ice-server")]
    ice_servers: Vec<String>,
    /// User name for the TURN servers.
    #[arg(long, default_value = "")]
    ice_username: String,
    /// Password for the TURN servers.
    #[arg(long, default_value = "")]
    ice_credential: String,
    /// Who gets a call (see `duplex::web`'s admission table).
    #[command(flatten)]
    admission: Box<AdmissionArgs>,
    /// Accept offers that carry no Origin header: programs (a WebRTC library, a load test), not
    /// browser pages, which always send one. Off by default: only the page this server serves
    /// (and the --allow-origin sites) may start calls.
    #[arg(long)]
    allow_programs: bool,
    /// The bearer token of `/v1/realtime` clients.
    #[command(flatten)]
    api_key: Box<ApiKeyArgs>,
    /// Do not keep a conversation's engines loaded ahead of the next call (saves about 300 MB
    /// while nobody talks; each call then waits a second or two for its engines).
    #[arg(long)]
    no_spare_engines: bool,
    /// Do not say "mm-hm" at inner pauses of a long user turn.
    #[arg(long)]
    no_backchannels: bool,
    /// Another origin whose pages may start calls (repeatable), e.g. https://duplex.lan:8443;
    /// by default only the page this server serves, reached by an IP address or localhost.
    #[arg(long = "allow-origin", value_name = "ORIGIN")]
    allow_origins: Vec<String>,
    /// Serve HTTPS with this certificate chain (PEM); needs --tls-key. Browsers give the
    /// microphone only to https pages (and localhost), so another machine needs HTTPS.
    #[arg(
        long,
        value_name = "FILE",
        requires = "tls_key",
        conflicts_with = "tls_self_signed"
    )]
    tls_cert: Option<PathBuf>,
    /// The private key of --tls-cert (PEM).
    #[arg(long, value_name = "FILE", requires = "tls_cert")]
    tls_key: Option<PathBuf>,
    /// Serve HTTPS with a self-signed certificate for localhost, the --rtc-ip address and the
    /// --allow-origin names, made once and kept in --tls-dir; its fingerprint is printed so
    /// that you can check it when the browser warns about it.
    #[arg(long)]
    tls_self_signed: bool,
    /// Where --tls-self-signed keeps its certificate and key (default: tls/ in the data
    /// directory, see --data-dir).
    #[arg(long, value_name = "DIR")]
    tls_dir: Option<PathBuf>,
    /// MEASUREMENT TOOL, not a conversation: answer every utterance with a fixed tone this
    /// many milliseconds after the caller stops, to measure the transport's own overhead.
    #[arg(long, value_name = "MS")]
    measure_tone_after_ms: Option<u64>,
}

/// The admission flags of `duplex serve`.
#[derive(clap::Args)]
struct AdmissionArgs {
    /// Most conversations at once (each runs its own engines and LLM worker); default: one per
    /// CPU core and at least 2, what this machine sustains at its latency goal (on 2 cores, 2
    /// calls at once kept each call's p95 voice-to-voice within 1.5x of one call's; 3 did not:
    /// see README). An offer takes a call slot only once its peer connects.
    #[arg(long)]
    max_sessions: Option<usize>,
    /// Most conversations at once from one client address; it must stay below --max-sessions,
    /// so that no address can hold every call. Default: one below --max-sessions. When --bind
    /// is a loopback address every caller is this machine: the default is --max-sessions
    /// itself, and any value is accepted.
    #[arg(long)]
    max_sessions_per_client: Option<usize>,
    /// Most offers being set up at once (answered, not yet connected; they hold no call slot);
    /// one address may hold all but one of them. Further offers get 503 (429 for that address).
    #[arg(long, default_value_t = 4)]
    max_pending_offers: usize,
    /// How long an answered offer may take to connect; then it is dropped and its pending place
    /// freed.
    #[arg(long, default_value_t = 5000, value_name = "MS")]
    connect_timeout_ms: u64,
    /// Longest call: at this length the agent says a short goodbye and the call ends (the page
    /// says why).
    #[arg(long, default_value_t = 3600, value_name = "SECONDS")]
    max_call_seconds: u64,
    /// Most HTTP connections open at once from one client address; further ones are closed at
    /// once.
    #[arg(long, default_value_t = 32)]
    max_connections_per_client: usize,
}

/// The default session limit: one conversation per core, and at least 2 (so that the
/// per-client cap, below it, lets one address call at all).
fn sessions_for_cores() -> usize {
    std::thread::available_parallelism()
        .map_or(1, |n| n.get())
        .max(2)
}

/// The admission settings the arguments ask for, checked.
fn admission(args: &AdmissionArgs, bind: SocketAddr) -> anyhow::Result<AdmissionLimits> {
    let max_calls = args.max_sessions.unwrap_or_else(sessions_for_cores);
    let loopback_only = bind.ip().is_loopback();
    let limits = AdmissionLimits {
        max_calls,
        max_calls_per_client: args
            .max_sessions_per_client
            .unwrap_or_else(|| AdmissionLimits::default_calls_per_client(max_calls, loopback_only)),
        max_pending: args.max_pending_offers,
        connect_timeout: Duration::from_millis(args.connect_timeout_ms),
        max_call_length: Duration::from_secs(args.max_call_seconds),
        max_connections_per_client: args.max_connections_per_client,
    };
    limits.check(loopback_only).map_err(anyhow::Error::msg)?;
    Ok(limits)
}

/// The bearer token of `/v1/realtime` clients (OpenAI Realtime protocol).
#[derive(Debug, clap::Args)]
struct ApiKeyArgs {
    /// A bearer token every `/v1/realtime` client (OpenAI Realtime protocol) must send
    /// (`Authorization: Bearer KEY`, the `api_key` of an OpenAI SDK); a client with it needs no
    /// Origin and no --allow-programs. Visible in the process list: prefer --api-key-file.
    #[arg(long, value_name = "KEY", conflicts_with = "api_key_file")]
    api_key: Option<String>,
    /// The bearer token of --api-key, from the first line of this file.
    #[arg(long, value_name = "PATH")]
    api_key_file: Option<PathBuf>,
}

/// The `/v1/realtime` bearer token, from --api-key or --api-key-file.
fn api_key(args: &ApiKeyArgs) -> anyhow::Result<Option<String>> {
    let key = match (&args.api_key, &args.api_key_file) {
        (Some(key), _) => key.trim().to_owned(),
        (None, Some(path)) => std::fs::read_to_string(path)
            .with_context(|| format!("cannot read --api-key-file {}", path.display()))?
            .lines()
            .next()
            .unwrap_or("")
            .trim()
            .to_owned(),
        (None, None) => return Ok(None),
    };
    if key.is_empty() {
        bail!(
            "the API key is empty: give --api-key a token (or --api-key-file a file holding one)"
        );
    }
    Ok(Some(key))
}

/// Runs the subcommand until Ctrl-C or SIGTERM, then ends the sessions and exits.
pub fn run(config: &Config, args: ServeArgs) -> anyhow::Result<()> {
    duplex::web::memory::limit_arenas();
    let rtc_ip = args.rtc_ip.unwrap_or(args.bind.ip());
    if rtc_ip.is_unspecified() {
        bail!(
            "--bind {} is a wildcard address: name the address browsers reach this machine at with --rtc-ip (e.g. --rtc-ip 192.168.1.20)",
            args.bind
        );
    }
    let admission = admission(&args.admission, args.bind)?;
    let max_sessions = admission.max_calls;
    let rtc_ports = match args.rtc_ports.as_deref().map(str::parse::<PortRange>) {
        Some(Ok(range)) => Some(Arc::new(range)),
        Some(Err(e)) => bail!("--rtc-ports: {e}"),
        None => None,
    };
    if let Some(ports) = &rtc_ports
        && ports.port_count() < max_sessions
    {
        bail!(
            "--rtc-ports {ports} holds {} ports but --max-sessions is {max_sessions}: each call needs one port; give at least {max_sessions}",
            ports.port_count()
        );
    }
    if let Some(ports) = &rtc_ports
        && ports.port_count() < max_sessions + admission.max_pending
    {
        tracing::warn!(
            "--rtc-ports {ports} holds fewer ports than --max-sessions plus --max-pending-offers ({}): offers being set up may take the ports calls need",
            max_sessions + admission.max_pending
        );
    }
    let origins = OriginPolicy::new(&args.allow_origins)
        .map_err(anyhow::Error::msg)?
        .allow_programs(args.allow_programs);
    let tls_dir = args
        .tls_dir
        .clone()
        .unwrap_or_else(|| config.data_dir().join("tls"));
    let tls = match tls_source(&args, tls_dir, rtc_ip, &origins) {
        Some(source) => Some(source.load()?),
        None => None,
    };
    let mode = match args.measure_tone_after_ms {
        Some(ms) => ReplyMode::ToneProbe {
            after: Duration::from_millis(ms),
        },
        None => ReplyMode::Conversation,
    };
    let whisper = match mode {
        ReplyMode::Conversation => Some(Arc::new(WhisperModel::load(&config.models, &config.asr)?)),
        ReplyMode::ToneProbe { .. } => None,
    };
    let ice_servers = args
        .ice_servers
        .iter()
        .map(|url| IceServer {
            url: url.clone(),
            username: args.ice_username.clone(),
            credential: args.ice_credential.clone(),
        })
        .collect();
    let spare =
        whisper.map(|whisper| SpareEngines::new(config.clone(), whisper, !args.no_spare_engines));
    let mut config = config.clone();
    if args.no_backchannels {
        config.agent.backchannel.enabled = false;
    }
    let state = Arc::new(AppState {
        config: config.clone(),
        spare,
        options: ServeOptions {
            bind: args.bind,
            peer: PeerOptions {
                rtc_ip,
                ice_servers,
                rtc_ports,
            },
            mode,
            admission,
            origins,
            api_key: api_key(&args.api_key)?,
        },
        sessions: SessionRegistry::default(),
        metrics: Arc::default(),
        memory: config.memory.enabled.then(|| WebMemory {
            data_dir: config.data_dir(),
            settings: config.memory.clone(),
            secure: tls.is_some(),
        }),
    });
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    let scheme = if tls.is_some() { "https" } else { "http" };
    let fingerprint = tls
        .as_ref()
        .map(|t| (t.fingerprint.clone(), t.cert_path.clone()));
    let stopped = runtime.block_on(serve(
        state,
        tls.map(|t| t.acceptor),
        |addr| {
            if let ReplyMode::ToneProbe { after } = mode {
                println!(
                    "duplex serve: MEASUREMENT MODE: replies are a tone {} ms after you stop",
                    after.as_millis()
                );
            }
            if let Some((fingerprint, cert)) = &fingerprint {
                println!(
                    "duplex serve: HTTPS certificate {} (SHA-256 fingerprint {fingerprint}); a browser that warns about a self-signed certificate shows the same fingerprint",
                    cert.display()
                );
            }
            println!("duplex serve: listening on {scheme}://{addr}/");
            let _ = std::io::stdout().flush();
        },
        stop_signal(),
    ))?;
    // What may be left on the runtime's blocking threads holds no native state (see `serve`).
    runtime.shutdown_timeout(RUNTIME_STOP_WAIT);
    if !stopped.engines_joined() {
        exit_leaving_engine_threads();
    }
    // Not println!: a closed stdout must not turn a clean stop into a panic.
    let _ = writeln!(std::io::stdout(), "duplex serve: stopped");
    let _ = std::io::stdout().flush();
    Ok(())
}

/// Ends the process at once, with exit code 0, without running atexit handlers or C++ static
/// destructors. Used only when a session's engine threads could not be joined in time: a normal
/// exit would destroy whisper.cpp's and ONNX Runtime's globals while those threads may still be
/// inside them, and the process would die of SIGSEGV (issue 32). Nothing is lost by skipping
/// them: the standard streams are flushed here, the memory store commits each change as it is
/// made (SQLite rolls back an unfinished one), and the LLM workers exit when their stdin closes.
fn exit_leaving_engine_threads() -> ! {
    let _ = writeln!(
        std::io::stdout(),
        "duplex serve: stopped (leaving engine threads that did not end in time)"
    );
    let _ = std::io::stdout().flush();
    let _ = std::io::stderr().flush();
    // SAFETY: `_exit` ends the process without touching its memory; it is async-signal-safe
    // and may be called with other threads running.
    unsafe { libc::_exit(0) }
}

/// Completes at Ctrl-C (SIGINT) or SIGTERM, the signals a user or a service manager stops the
/// server with.
async fn stop_signal() {
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut term) => {
                term.recv().await;
            }
            Err(e) => {
                tracing::warn!("cannot watch for SIGTERM: {e}");
                std::future::pending::<()>().await;
            }
        }
    };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = term => {}
    }
    println!("duplex serve: stopping: ending the calls");
    let _ = std::io::stdout().flush();
}

/// The HTTPS certificate the arguments ask for, if any.
fn tls_source(
    args: &ServeArgs,
    tls_dir: PathBuf,
    rtc_ip: IpAddr,
    origins: &OriginPolicy,
) -> Option<TlsSource> {
    if let (Some(cert), Some(key)) = (&args.tls_cert, &args.tls_key) {
        return Some(TlsSource::Files {
            cert: cert.clone(),
            key: key.clone(),
        });
    }
    if !args.tls_self_signed {
        return None;
    }
    let mut names = vec![
        "localhost".to_owned(),
        "127.0.0.1".to_owned(),
        rtc_ip.to_string(),
    ];
    names.extend(origins.hosts().iter().cloned());
    names.sort();
    names.dedup();
    Some(TlsSource::SelfSigned {
        dir: tls_dir,
        names,
    })
}
