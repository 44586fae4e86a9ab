#!/usr/bin/env bash
# Concurrent conversations on one `duplex serve`: one call alone, then SESSIONS calls at once
# (default 2; each starts STAGGER_MS after the previous, default 3000; calls beyond the server's
# admission limit, one per core by default, must be refused), all in headless Chromium
# whose microphone asks three questions with 8 s pauses; voice-to-voice latency per call from the
# page's meter, the p95 ratio against the single call of the same run, dropped microphone
# frames. Inside a loopback-only network namespace; writes bench-results/sessions.json.
# Not part of CI. Needs the README's test set-up (scripts/setup_test_deps.sh).
#
#   bash scripts/bench_sessions.sh
#   SESSIONS=3 bash scripts/bench_sessions.sh                              # one more than 2 cores admit
#   SESSIONS=3 SERVER_ARGS="--max-sessions 3" bash scripts/bench_sessions.sh  # what a 3rd would cost
#   LLAMA_SERVER_SLOTS=2 bash scripts/bench_sessions.sh   # the LLM on llama-server (2 parallel
#                       # slots, in the same namespace), as a serving engine elsewhere would be
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
export ORT_DYLIB_PATH="${ORT_DYLIB_PATH:-$(ls "$ROOT"/models/libonnxruntime.so.* | head -n 1)}"
SESSIONS="${SESSIONS:-2}"
STAGGER_MS="${STAGGER_MS:-3000}"
cargo build --release --quiet
mkdir -p bench-results
TMP="$(mktemp -d)"
trap 'rm -rf "$TMP"' EXIT
# Three questions, each followed by 8 s of silence (time for the reply), as 16-bit PCM.
python3 - "$TMP/asks.wav" audio-fixtures/goforward.wav audio-fixtures/002.wav \
    audio-fixtures/sense_and_sensibility_01_austen_64kb-0930.wav <<'PY'
import sys, wave
out, sources = sys.argv[1], sys.argv[2:]
frames, params = b"", None
for src in sources:
    with wave.open(src) as r:
        params = params or r.getparams()
        assert (r.getframerate(), r.getnchannels(), r.getsampwidth()) == (params.framerate, params.nchannels, params.sampwidth)
        frames += r.readframes(r.getnframes())
    frames += b"\0" * (8 * params.framerate * params.sampwidth * params.nchannels)
with wave.open(out, "wb") as w:
    w.setparams(params)
    w.writeframes(frames)
PY
RUN=(node tests/browser/sessions.mjs "$ROOT/target/release/duplex" "$TMP/asks.wav" 3 "$SESSIONS" "$STAGGER_MS")
if [ -n "${LLAMA_SERVER_SLOTS:-}" ]; then
    # llama-server with that many parallel slots on the default brain's GGUF, started inside the
    # namespace; duplex's [llm] points at it.
    LLAMA_SERVER="$(bash scripts/build_llama_server.sh)"
    GGUF="$(ls "$ROOT"/models/SmolLM2-135M-Instruct*.gguf | head -n 1)"
    cat > "$TMP/llm.toml" <<TOML
[llm]
backend = "openai"
[llm.openai]
base_url = "http://127.0.0.1:18181/v1"
TOML
    tests/browser/run_in_netns.sh bash -c '
        "$1" -m "$2" --host 127.0.0.1 --port 18181 -c $((4096 * $3)) -np "$3" -t 2 --no-webui >/dev/null 2>&1 &
        server=$!
        trap "kill $server" EXIT
        until curl -sf http://127.0.0.1:18181/health >/dev/null; do sleep 0.2; done
        shift 3; "$@"' _ "$LLAMA_SERVER" "$GGUF" "$LLAMA_SERVER_SLOTS" \
        "${RUN[@]}" --config "$TMP/llm.toml" ${SERVER_ARGS:-} | tail -n 1 | tee bench-results/sessions.json
else
    tests/browser/run_in_netns.sh "${RUN[@]}" ${SERVER_ARGS:-} | tail -n 1 | tee bench-results/sessions.json
fi
