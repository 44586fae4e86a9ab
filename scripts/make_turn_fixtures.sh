#!/usr/bin/env bash
# The turn-taking benchmark's recordings (issue 31), from audio-fixtures/turns/manifest.json.
#
#   bash scripts/make_turn_fixtures.sh            # composes the recordings into target/turn-fixtures/
#   bash scripts/make_turn_fixtures.sh --synth    # first re-speaks the synthetic items (committed)
#
# The synthetic speech (audio-fixtures/turns/*.wav, cuts.json) is committed: Piper samples noise,
# so re-speaking it gives other files (one draw is kept). Composing is deterministic: the real
# recordings of audio-fixtures/ are cut after the manifest's word, every pause is stretched to
# its length with the recording's own room tone, and labels.json says where each pause and end
# is and its truth. See audio-fixtures/turns/README.md.
#
# Needs python3 (standard library only); --synth also needs espeak-ng, sox and a release build of
# duplex with its models (`bash scripts/setup.sh`).
set -euo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
out="${TURN_FIXTURES:-$repo/target/turn-fixtures}"
need() { command -v "$1" >/dev/null 2>&1 || { echo "make_turn_fixtures: '$1' is missing ($2)" >&2; exit 1; }; }
need python3 "apt-get install python3"
if [ "${1:-}" = "--synth" ]; then
    need espeak-ng "apt-get install espeak-ng"
    need sox "apt-get install sox"
    [ -x "$repo/target/release/duplex" ] || { echo "make_turn_fixtures: build duplex first (cargo build --release)" >&2; exit 1; }
    python3 "$repo/scripts/turn_fixtures.py" synth
fi
python3 "$repo/scripts/turn_fixtures.py" compose --out "$out"
