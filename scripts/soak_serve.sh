#!/usr/bin/env bash
# A soak of `duplex serve`: back-to-back browser calls (headless Chromium, its fake microphone
# playing fixtures) for SOAK_S seconds (default 1800), inside a loopback-only network namespace.
# Reports the resident memory of the server and its LLM workers at rest before, after each call
# and 15 s after the last, and what /metrics counted; writes bench-results/soak_serve.json.
# Not part of CI (it takes half an hour). Needs the README's test set-up (scripts/setup_test_deps.sh).
#
#   bash scripts/soak_serve.sh              # 30 minutes
#   SOAK_S=120 bash scripts/soak_serve.sh   # a short check
#   DUPLEX_BIN=/tmp/copy/duplex bash scripts/soak_serve.sh   # a copied build (its duplex-llm
#                                           # beside it), so that building goes on meanwhile
#   SERVER_ARGS="--no-backchannels" bash scripts/soak_serve.sh   # more flags for the server
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
export ORT_DYLIB_PATH="${ORT_DYLIB_PATH:-$(ls "$ROOT"/models/libonnxruntime.so.* | head -n 1)}"
BIN="${DUPLEX_BIN:-}"
if [ -z "$BIN" ]; then
    cargo build --release --quiet
    BIN="$ROOT/target/release/duplex"
fi
TMP="$(mktemp -d)"
trap 'rm -rf "$TMP"' EXIT
# Each fixture followed by 2 s of silence, as the browser tests play them.
WAVS=""
for f in 002.wav sense_and_sensibility_01_austen_64kb-0930.wav goforward.wav; do
    python3 - "audio-fixtures/$f" "$TMP/$f" <<'PY'
import sys, wave
src, dst = sys.argv[1], sys.argv[2]
with wave.open(src) as r:
    params, frames = r.getparams(), r.readframes(r.getnframes())
pad = b"\0" * (2 * params.framerate * params.sampwidth * params.nchannels)
with wave.open(dst, "wb") as w:
    w.setparams(params)
    w.writeframes(frames + pad)
PY
    WAVS="${WAVS:+$WAVS,}$TMP/$f"
done
mkdir -p bench-results
tests/browser/run_in_netns.sh node tests/browser/soak.mjs "$BIN" \
    "${SOAK_S:-1800}" "$WAVS" | tail -n 1 > bench-results/soak_serve.json
python3 - <<'PY'
import json
r = json.load(open("bench-results/soak_serve.json"))
lat = sorted(c["latencyMs"] for c in r["calls"])
print(f"{len(r['calls'])} calls in {r['seconds']} s; metrics counted {r['metricsSessionsStarted']} sessions, {r['metricsTurns']} turns")
print(f"resident memory (server + workers): {r['baselineMb']:.0f} MiB at rest before, peak {r['peakMb']:.0f}, "
      f"{r['afterRestMb']:.0f} 15 s after the last call ({r['afterOverBaseline']:.3f}x)")
b, a = r["baselineServer"], r["afterServer"]
print(f"server process alone: {b['total']:.0f} -> {a['total']:.0f} MiB resident "
      f"(anonymous {b['anon']:.0f} -> {a['anon']:.0f}, file-backed {b['file']:.0f} -> {a['file']:.0f}); "
      f"heap in use {r['baselineHeapMb']:.0f} -> {r['afterHeapMb']:.0f} MiB")
if lat:
    print(f"voice-to-voice in the page: p50 {lat[len(lat)//2]:.0f} ms, max {lat[-1]:.0f} ms")
print("-> bench-results/soak_serve.json")
PY
