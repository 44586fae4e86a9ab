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
tests/browser/run_in_netns.sh node tests/browser/sessions.mjs "$ROOT/target/release/duplex" \
    "$TMP/asks.wav" 3 "$SESSIONS" "$STAGGER_MS" ${SERVER_ARGS:-} | tail -n 1 | tee bench-results/sessions.json
