//! `duplex serve [--bind 127.0.0.1:8080]`: the web page and WebRTC endpoint; one conversation
//! per browser tab.

use std::io::Write;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, bail};
use duplex::asr::WhisperModel;
use duplex::config::Config;
use duplex::transport::webrtc::{IceServer, PeerOptions};
use duplex::web::{AppState, ReplyMode, ServeOptions, SessionRegistry, serve};

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
    /// A STUN or TURN server URL for ICE (repeatable), e.g. stun:stun.example.org:3478.
    #[arg(long = "ice-server")]
    ice_servers: Vec<String>,
    /// User name for the TURN servers.
    #[arg(long, default_value = "")]
    ice_username: String,
    /// Password for the TURN servers.
    #[arg(long, default_value = "")]
    ice_credential: String,
    /// Most conversations at once (each runs its own engines and LLM worker).
    #[arg(long, default_value_t = 4)]
    max_sessions: usize,
    /// MEASUREMENT TOOL, not a conversation: answer every utterance with a fixed tone this
    /// many milliseconds after the caller stops, to measure the transport's own overhead.
    #[arg(long, value_name = "MS")]
    measure_tone_after_ms: Option<u64>,
}

/// Runs the subcommand until Ctrl-C.
pub fn run(config: &Config, args: ServeArgs) -> anyhow::Result<()> {
    let rtc_ip = args.rtc_ip.unwrap_or(args.bind.ip());
    if rtc_ip.is_unspecified() {
        bail!(
            "--bind {} is a wildcard address: name the address browsers reach this machine at with --rtc-ip (e.g. --rtc-ip 192.168.1.20)",
            args.bind
        );
    }
    if args.max_sessions == 0 {
        bail!("--max-sessions must be at least 1");
    }
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
    let state = Arc::new(AppState {
        config: config.clone(),
        whisper,
        options: ServeOptions {
            bind: args.bind,
            peer: PeerOptions {
                rtc_ip,
                ice_servers,
            },
            mode,
            max_sessions: args.max_sessions,
        },
        sessions: SessionRegistry::default(),
    });
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    runtime.block_on(serve(
        state,
        |addr| {
            if let ReplyMode::ToneProbe { after } = mode {
                println!(
                    "duplex serve: MEASUREMENT MODE: replies are a tone {} ms after you stop",
                    after.as_millis()
                );
            }
            println!("duplex serve: listening on http://{addr}/");
            let _ = std::io::stdout().flush();
        },
        async {
            let _ = tokio::signal::ctrl_c().await;
        },
    ))?;
    Ok(())
}
