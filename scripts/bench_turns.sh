#!/usr/bin/env bash
# The turn-taking benchmark (issue 31): duplex and the reference peer on the same recordings, in
# one run, one JSON (bench-results/turns.json), and its picture (docs/img/turns.svg).
#
#   bash scripts/bench_turns.sh                  # duplex with --brain fast (replies are not judged)
#   DUPLEX_ARGS="" bash scripts/bench_turns.sh   # with the configured brain
#
# 1. composes the labelled recordings (scripts/make_turn_fixtures.sh, into target/turn-fixtures/);
# 2. runs Pipecat's VAD + smart-turn analyzer over them (scripts/peer_turns.py, in the peer's
#    venv: PEER_PYTHON, default ~/.cache/duplex-peer/venv/bin/python, made by ../shared/peer/run.sh);
# 3. runs `duplex bench turns --peer ...`, which scores both with the same code and sweeps
#    duplex's endpoint settings; 4. draws the trade-off (scripts/plot_turns.py).
# Everything runs in virtual time: the figures do not depend on the machine's load.
set -euo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$repo"
fixtures="${TURN_FIXTURES:-$repo/target/turn-fixtures}"
peer_python="${PEER_PYTHON:-$HOME/.cache/duplex-peer/venv/bin/python}"
[ -x "$peer_python" ] || { echo "bench_turns: no peer venv at $peer_python (run ../shared/peer/run.sh once, or set PEER_PYTHON)" >&2; exit 1; }
[ -x target/release/duplex ] || { echo "bench_turns: build duplex first (cargo build --release)" >&2; exit 1; }
mkdir -p bench-results

TURN_FIXTURES="$fixtures" bash scripts/make_turn_fixtures.sh
"$peer_python" scripts/peer_turns.py --fixtures "$fixtures" --output bench-results/peer_turns.json \
    2> bench-results/peer_turns.log
# shellcheck disable=SC2086 # DUPLEX_ARGS is a list of words
target/release/duplex ${DUPLEX_ARGS---brain fast --no-memory} bench turns --fixtures "$fixtures" \
    --peer bench-results/peer_turns.json --output bench-results/turns.json
python3 scripts/plot_turns.py bench-results/turns.json docs/img/turns.svg
