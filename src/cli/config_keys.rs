//! What every configuration key does, in one line each: the comments `duplex config` prints.
//!
//! The order here is the order of the printed file. A test in `config_toml.rs` checks that every
//! key the configuration serialises has an entry, and that every entry names a real key, so a
//! key added to a config struct without a line here fails the tests.

/// What one entry describes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyKind {
    /// A table (`[agent.endpoint]`).
    Section,
    /// A key that always has a value.
    Value,
    /// A key that may be unset; when unset it is printed commented out, with this example.
    Optional(&'static str),
}

/// One documented table or key.
#[derive(Debug, Clone, Copy)]
pub struct KeyDoc {
    /// Dotted path from the top of the file (`llm.openai.base_url`).
    pub path: &'static str,
    /// What it is.
    pub kind: KeyKind,
    /// What it does, one line.
    pub doc: &'static str,
}

const fn section(path: &'static str, doc: &'static str) -> KeyDoc {
    KeyDoc {
        path,
        kind: KeyKind::Section,
        doc,
    }
}

const fn key(path: &'static str, doc: &'static str) -> KeyDoc {
    KeyDoc {
        path,
        kind: KeyKind::Value,
        doc,
    }
}

const fn optional(path: &'static str, example: &'static str, doc: &'static str) -> KeyDoc {
    KeyDoc {
        path,
        kind: KeyKind::Optional(example),
        doc,
    }
}

/// Every table and key, in the order they are printed (one per line: `rustfmt::skip`).
#[rustfmt::skip]
pub const KEYS: &[KeyDoc] = &[
    optional("data_dir", "\"/var/lib/duplex\"", "Where duplex writes (memory, HTTPS certificate); unset: $XDG_DATA_HOME/duplex or ~/.local/share/duplex (--data-dir, DUPLEX_DATA_DIR override it)."),
    section("models", "Where the model files are; relative paths are resolved against `dir`."),
    key("models.dir", "The directory holding the fetched models (--models overrides it; default: DUPLEX_MODELS, else ./models)."),
    key("models.onnxruntime", "The ONNX Runtime shared library, loaded at run time."),
    key("models.whisper", "The Whisper ggml model (speech recognition)."),
    key("models.silero_vad", "The Silero VAD v6 ONNX model (voice activity detection)."),
    key("models.smart_turn", "The smart-turn v3.2 ONNX model (end of turn)."),
    key("models.piper_voice", "The Piper voice ONNX model; its .onnx.json sits beside it."),
    optional("models.llm", "\"my-model.gguf\"", "A GGUF for the embedded LLM, used when [llm] brain is unset; unset too: the default brain."),
    section("vad", "Voice activity detection: the thresholds that turn Silero's probabilities into speech."),
    key("vad.threshold", "A 32 ms chunk at or above this probability is speech."),
    key("vad.neg_threshold", "Speech ends only when the probability falls below this (hysteresis)."),
    key("vad.min_speech_ms", "Shorter speech is discarded (a click, a cough)."),
    key("vad.min_silence_ms", "Silence shorter than this does not end a segment."),
    key("vad.speech_pad_ms", "Padding added to both ends of a segment."),
    section("asr", "Speech recognition (Whisper through whisper-rs)."),
    key("asr.threads", "CPU threads for one transcription (1: waking a second thread per token costs more than it gains)."),
    key("asr.fit_audio_context", "Size the encoder's context to the segment instead of the fixed 30 s window."),
    key("asr.audio_context_margin", "Encoder positions (50 per second) beyond the segment when fitting the context."),
    key("asr.language", "Spoken language, as a Whisper code."),
    section("turn", "The end-of-turn model (smart-turn)."),
    key("turn.threads", "ONNX Runtime intra-op threads for smart-turn."),
    section("agent", "Turn-taking: end of turn, barge-in, backchannels."),
    key("agent.interrupt_after_ms", "Voiced speech over the agent this long interrupts it whatever its words; shorter speech is judged by its transcript."),
    key("agent.preroll_ms", "Audio kept before the detected speech start, so the first syllable is not clipped."),
    key("agent.max_utterance_s", "Longest user utterance kept for transcription; older audio is dropped from the front."),
    section("agent.endpoint", "When a pause ends the user's turn, from the turn-end model's score."),
    key("agent.endpoint.complete_threshold", "A score at or above this says the turn is complete."),
    key("agent.endpoint.complete_wait_ms", "Silence to wait after the pause is detected when the turn is complete."),
    key("agent.endpoint.incomplete_wait_ms", "Silence to wait, from the speech end, when the score says not complete."),
    key("agent.endpoint.question_wait_ms", "The same wait for a question (ends in \"?\") said with a final rise."),
    key("agent.endpoint.question_rise_confidence", "Confidence in the final rise needed for the shorter question wait."),
    section("agent.backchannel", "Short listener sounds (\"mm-hm\") at inner pauses of a long user turn."),
    key("agent.backchannel.enabled", "Say them at all (default on for talk and serve, off otherwise; --no-backchannels turns them off)."),
    key("agent.backchannel.min_speech_ms", "The user must have spoken this long in the turn before the first one."),
    key("agent.backchannel.min_gap_ms", "At least this long between two."),
    key("agent.backchannel.words", "What to say, in turn."),
    section("tts", "Text to speech (Piper)."),
    key("tts.threads", "CPU threads for one synthesis (ONNX Runtime intra-op threads)."),
    key("tts.speed", "Speaking rate: 1.0 is the voice's own, 1.2 is 20 % faster."),
    optional("tts.noise_scale", "0.667", "Overrides the voice's noise_scale (variation of the voice); unset: the voice's own."),
    optional("tts.noise_w", "0.8", "Overrides the voice's noise_w (variation of phoneme durations); unset: the voice's own."),
    key("tts.sentence_silence_ms", "Silence after each sentence (the voice's own trailing silence is trimmed first)."),
    key("tts.clause_silence_ms", "Silence after a chunk that ends with , ; or :."),
    optional("tts.espeak_data", "\"/usr/lib/x86_64-linux-gnu/espeak-ng-data\"", "The espeak-ng-data directory (or its parent); unset: found automatically."),
    section("tts.chunker", "How a streamed reply is cut into chunks for the voice."),
    key("tts.chunker.first_clause_min_words", "Words the first chunk needs before a clause boundary may end it."),
    key("tts.chunker.clause_min_words", "Words a later chunk needs before a clause boundary may end it."),
    key("tts.chunker.first_max_words", "The first chunk is split at a space after this many words even without a boundary."),
    key("tts.chunker.max_words", "A later chunk with no boundary at all is split at a space after this many words."),
    section("llm", "The language model: backend, prompt, sampling, history."),
    key("llm.backend", "Which backend answers: \"embedded\" (llama.cpp in the duplex-llm worker) or \"openai\" (an OpenAI-compatible server)."),
    optional("llm.brain", "\"balanced\"", "A named embedded model: fast, balanced or quality (--brain sets it); unset: models.llm, else balanced."),
    key("llm.system_prompt", "The system prompt, first in every request; empty: the brain's own default."),
    key("llm.cue_notes", "Write a note of how the user spoke (quickly, rising, hesitant) beside their words for the model."),
    key("llm.history_budget_tokens", "Estimated tokens of history (system prompt included) kept; older turns are dropped between turns, their facts kept in a running memory."),
    key("llm.max_tokens", "Most tokens per reply."),
    key("llm.max_sentences", "A reply stops after this many sentences unless the user asked for more (0: no limit)."),
    optional("llm.temperature", "0.2", "Sampling temperature, 0 is greedy; unset: the brain's own (0.2 for fast, 0 for the others)."),
    key("llm.top_p", "Nucleus sampling threshold."),
    key("llm.repeat_penalty", "Repetition penalty over the conversation (1.0: none)."),
    key("llm.repeat_last_n", "Tokens of the conversation the repetition penalties look back over."),
    key("llm.frequency_penalty", "Penalty growing with each repeat of a token (0: none)."),
    key("llm.presence_penalty", "Penalty for any repeat of a token (0: none)."),
    key("llm.dry_multiplier", "DRY penalty on continuing a sequence already in the conversation (0: off)."),
    key("llm.dry_base", "How fast the DRY penalty grows with the sequence's length."),
    key("llm.dry_allowed_length", "Repeats up to this many tokens are free of the DRY penalty."),
    key("llm.dry_penalty_last_n", "Tokens of the conversation DRY looks back over."),
    key("llm.seed", "Sampler seed."),
    section("llm.embedded", "The embedded backend: the duplex-llm worker process (llama.cpp)."),
    key("llm.embedded.worker", "The duplex-llm binary; empty: beside the running executable (or DUPLEX_LLM_WORKER)."),
    key("llm.embedded.n_ctx", "Context size in tokens."),
    key("llm.embedded.threads", "CPU threads generating token by token; 0: all cores but one."),
    key("llm.embedded.threads_batch", "CPU threads prefilling the prompt; 0: the cores other processes leave free."),
    key("llm.embedded.flash_attention", "llama.cpp's flash attention (off: slower on 2 CPU cores)."),
    key("llm.embedded.load_timeout_ms", "How long loading the model may take."),
    key("llm.embedded.response_timeout_ms", "How long the worker may stay silent during a request before it is stopped."),
    section("llm.openai", "The OpenAI-compatible backend (llama-server, vLLM, Ollama, ...)."),
    key("llm.openai.base_url", "Base URL up to and including /v1."),
    key("llm.openai.model", "The model name sent with each request."),
    key("llm.openai.api_key", "API key sent as a bearer token; empty: read the variable named by api_key_env."),
    key("llm.openai.api_key_env", "Environment variable holding the API key when api_key is empty."),
    key("llm.openai.connect_timeout_ms", "How long connecting may take."),
    key("llm.openai.read_timeout_ms", "How long the server may stay silent (before the first token, or between two)."),
    section("memory", "The memory between calls (--no-memory turns it off)."),
    key("memory.enabled", "Keep what the user tells between calls; off: nothing is written, no file made."),
    key("memory.recall_facts", "Most facts from earlier calls put in a new call's system prompt (the most recent)."),
    key("memory.search_facts", "Most facts put before a reply to \"what did I tell you about X\"."),
    optional("tools", "[{ name = \"get_weather\", description = \"The current weather in a city.\", parameters = { type = \"object\", properties = { city = { type = \"string\" } }, required = [\"city\"] }, command = [\"python3\", \"weather.py\"], timeout_ms = 5000, side_effects = false }]", "Command tools the agent may call ([[tools]] tables): name, description, parameters (a JSON Schema), command (arguments as one JSON object on stdin, the result on stdout), timeout_ms, side_effects."),
    optional("mcp_servers", "[{ name = \"time\", command = [\"mcp-server-time\"], timeout_ms = 10000 }]", "MCP servers over stdio ([[mcp_servers]] tables: name, command, timeout_ms); their tools are listed at start as {name}_{tool}."),
];
