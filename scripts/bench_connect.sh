#!/usr/bin/env bash
# Time from pressing Talk to "listening" in headless Chromium against `duplex serve` on an idle
# server, with the spare engines (the default) and without (--no-spare-engines), RUNS calls each
# (default 10), inside a loopback-only network namespace. Writes bench-results/connect.json.
# Needs the README's test set-up (scripts/setup_test_deps.sh).
#
#   bash scripts/bench_connect.sh
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
export ORT_DYLIB_PATH="${ORT_DYLIB_PATH:-$(ls "$ROOT"/models/libonnxruntime.so.* | head -n 1)}"
RUNS="${RUNS:-10}"
cargo build --release --quiet
mkdir -p bench-results
BIN="$ROOT/target/release/duplex"
WAV="$ROOT/audio-fixtures/goforward.wav"
with=$(tests/browser/run_in_netns.sh node tests/browser/connect.mjs "$BIN" "$RUNS" "$WAV" | tail -n 1)
without=$(tests/browser/run_in_netns.sh node tests/browser/connect.mjs "$BIN" "$RUNS" "$WAV" --no-spare-engines | tail -n 1)
printf '{"with_spare_engines": %s, "without": %s}\n' "$with" "$without" | tee bench-results/connect.json
