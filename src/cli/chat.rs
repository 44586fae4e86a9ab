//! `duplex chat`: a text REPL over the voice agent's turn manager, to try a backend.
//!
//! Each line typed is a user turn; the reply streams to stdout as it is generated. Commands:
//! `/history` shows the memory, `/cut N` cuts the last reply to its first N words as if the user
//! had talked over it, `/tools` lists the tools (built-ins, `[[tools]]`, the tools of the
//! `[[mcp_servers]]`, started with the chat), `/reset` forgets the conversation, `/quit` ends
//! (as does end of input).
//! Timings go to stderr with `--stats`. It shares the local memory between calls with `talk` and
//! `converse` (see `duplex memory`), unless `--no-memory`.

use std::io::{BufRead, IsTerminal, Write};

use anyhow::Context;
use duplex::config::Config;
use duplex::llm::{BackendKind, CancelToken, TurnManager};
use duplex::tools::{ToolRegistry, tool_listing};

/// Arguments of `duplex chat`.
#[derive(clap::Args)]
pub struct ChatArgs {
    /// Which backend answers (overrides llm.backend).
    #[arg(long, value_enum)]
    backend: Option<Backend>,
    /// Base URL of an OpenAI-compatible server, up to /v1 (implies --backend openai).
    #[arg(long)]
    url: Option<String>,
    /// Model name sent to the server (llm.openai.model).
    #[arg(long)]
    server_model: Option<String>,
    /// System prompt (overrides llm.system_prompt).
    #[arg(long)]
    system: Option<String>,
    /// Most tokens per reply (overrides llm.max_tokens).
    #[arg(long)]
    max_tokens: Option<u32>,
    /// Sampling temperature, 0 for greedy (overrides llm.temperature).
    #[arg(long, value_parser = parse_temperature)]
    temperature: Option<f32>,
    /// Print time to first token, tokens and speed after each reply (stderr).
    #[arg(long)]
    stats: bool,
}

/// `--backend` values.
#[derive(Clone, Copy, clap::ValueEnum)]
enum Backend {
    Embedded,
    Openai,
}

/// Runs the subcommand.
pub fn run(config: &Config, args: ChatArgs) -> anyhow::Result<()> {
    let mut config = config.clone();
    let llm = &mut config.llm;
    if let Some(b) = args.backend {
        llm.backend = match b {
            Backend::Embedded => BackendKind::Embedded,
            Backend::Openai => BackendKind::Openai,
        };
    }
    if let Some(url) = args.url {
        llm.openai.base_url = url;
        llm.backend = BackendKind::Openai;
    }
    if let Some(m) = args.server_model {
        llm.openai.model = m;
    }
    if let Some(s) = args.system {
        llm.system_prompt = s;
    }
    if let Some(n) = args.max_tokens {
        llm.max_tokens = n;
    }
    if let Some(t) = args.temperature {
        llm.temperature = Some(t);
    }
    let mut manager = TurnManager::from_config(&config.llm, &config.llm_model_path()?)
        .context("starting the language model")?;
    if let Some(profile) = super::memory::local_profile(&config) {
        manager
            .attach_profile(profile)
            .context("giving the language model what earlier calls learnt")?;
    }
    let tools = Tools::load(&config)?;
    let interactive = std::io::stdin().is_terminal();
    eprintln!("duplex chat: {}", manager.backend_mut().describe());
    if interactive {
        eprintln!("(/history, /cut N, /tools, /reset, /quit)");
    }
    let stdin = std::io::stdin();
    let mut lines = stdin.lock().lines();
    loop {
        if interactive {
            eprint!("you> ");
        }
        let Some(line) = lines.next() else { break };
        let line = line.context("reading stdin")?;
        let line = line.trim();
        if line.is_empty() {
            continue;
        }
        if let Some(command) = line.strip_prefix('/') {
            if !command_(&mut manager, &tools, command)? {
                break;
            }
            continue;
        }
        let mut out = std::io::stdout().lock();
        let reply = manager.respond(line, &CancelToken::new(), &mut |piece| {
            let _ = out.write_all(piece.as_bytes());
            let _ = out.flush();
        })?;
        writeln!(out)?;
        drop(out);
        // While the user types: trim the history ahead of its budget, off the next reply's path.
        manager.compact()?;
        if args.stats {
            let ttft = reply.first_token.map_or(0.0, |d| d.as_secs_f64() * 1000.0);
            let tokens = reply.finish.delivered_tokens;
            let gen_s = reply.elapsed.as_secs_f64() - ttft / 1000.0;
            let speed = if gen_s > 0.0 && tokens > 1 {
                f64::from(tokens - 1) / gen_s
            } else {
                0.0
            };
            eprintln!(
                "[first token {ttft:.0} ms, {tokens} tokens, {speed:.1} tokens/s, {:?}]",
                reply.finish.reason
            );
        }
    }
    Ok(())
}

/// The tools of the configuration, with the runtime their MCP servers' connections live on.
struct Tools {
    registry: ToolRegistry,
    _runtime: tokio::runtime::Runtime,
}

impl Tools {
    /// The built-ins, `[[tools]]` and the tools of every `[[mcp_servers]]` (each started now).
    fn load(config: &Config) -> anyhow::Result<Self> {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .context("starting the tools' runtime")?;
        let registry = runtime
            .block_on(ToolRegistry::from_config(
                &config.tools,
                &config.mcp_servers,
            ))
            .context("loading the tools of the configuration")?;
        for problem in registry.problems() {
            eprintln!("duplex chat: {problem}");
        }
        Ok(Self {
            registry,
            _runtime: runtime,
        })
    }
}

/// Runs a `/command`; false to quit.
fn command_(manager: &mut TurnManager, tools: &Tools, command: &str) -> anyhow::Result<bool> {
    let mut words = command.split_whitespace();
    match words.next().unwrap_or_default() {
        "quit" | "exit" => return Ok(false),
        "reset" => {
            manager.memory_mut().clear();
            manager.warm_up()?;
            eprintln!("(conversation forgotten)");
        }
        "history" => {
            let memory = manager.memory();
            for m in memory.messages() {
                println!("{:>9}: {}", m.role, m.content);
            }
            eprintln!(
                "({} turns, ~{} tokens, {} dropped)",
                memory.turns().len(),
                memory.estimated_tokens(),
                memory.dropped_turns()
            );
        }
        "cut" => {
            let n: usize = words.next().and_then(|w| w.parse().ok()).unwrap_or(0);
            let heard = manager.memory().last().map_or(String::new(), |t| {
                t.text
                    .split_whitespace()
                    .take(n)
                    .collect::<Vec<_>>()
                    .join(" ")
            });
            if manager.interrupt(&heard) {
                eprintln!("(last reply cut to: {heard:?})");
            } else {
                eprintln!("(the last turn is not a reply)");
            }
        }
        "tools" => print!("{}", tool_listing(&tools.registry)),
        other => {
            eprintln!("(unknown command /{other}; try /history, /cut N, /tools, /reset, /quit)")
        }
    }
    Ok(true)
}

/// `--temperature`: a number, checked as `[llm] temperature` is.
fn parse_temperature(text: &str) -> Result<f32, String> {
    let value: f32 = text
        .parse()
        .map_err(|e| format!("{text:?} is not a number: {e}"))?;
    duplex::llm::config::check_temperature(value)
}
