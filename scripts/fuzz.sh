#!/usr/bin/env bash
# Fuzzes duplex's parsers of untrusted input, each for a fixed time (issue 29): the browser's SDP
# offer (`offer`), WAV files (`wav`), the LLM worker's protocol lines (`llm_protocol`) and the
# configuration file (`config`); the targets are in fuzz/fuzz_targets/. A bench, not a test: CI
# and scripts/test.sh do not call it.
#
#   scripts/fuzz.sh [SECONDS_PER_TARGET]     (default 60)
#
# Environment: FUZZ_TARGETS (a subset, e.g. "wav config"), FUZZ_SANITIZER (address, the default,
# or none), FUZZ_NICE (the nice level of the build and the runs, default 19: other work keeps
# the CPU).
#
# Needs the nightly toolchain and cargo-fuzz (installed when missing, the command printed). The
# first build compiles duplex and its native code (whisper.cpp, SQLite, ...) into fuzz/target:
# many minutes on 2 cores, once. Each target's corpus grows in fuzz/corpus/<target> (starting
# from the committed seeds in fuzz/seeds/<target>); a crashing input is saved under
# fuzz/artifacts/<target>/. Writes bench-results/fuzz.json and prints one line per target.
set -euo pipefail
cd "$(dirname "$0")/.."

SECONDS_PER_TARGET="${1:-60}"
TARGETS="${FUZZ_TARGETS:-offer wav llm_protocol config}"
SANITIZER="${FUZZ_SANITIZER:-address}"
NICE=(nice -n "${FUZZ_NICE:-19}")
# -a: debug assertions and overflow checks, so an overflow the release build would wrap is found.
FUZZ_FLAGS=(-a --sanitizer "$SANITIZER")
REPORT=bench-results/fuzz.json
HOST=$(rustc -vV | sed -n 's/^host: //p')

if ! rustup toolchain list | grep -q '^nightly'; then
    echo "+ rustup toolchain install nightly --profile minimal"
    rustup toolchain install nightly --profile minimal
fi
if ! cargo +nightly fuzz --version >/dev/null 2>&1; then
    echo "+ cargo install cargo-fuzz --locked"
    cargo install cargo-fuzz --locked
fi

# The fuzzed dependencies are the shipped ones: the root's lock file, plus the fuzz crate's own.
cp Cargo.lock fuzz/Cargo.lock
echo "== build (cargo +nightly fuzz build ${FUZZ_FLAGS[*]}, nice'd)"
build_start=$(date +%s)
"${NICE[@]}" cargo +nightly fuzz build "${FUZZ_FLAGS[@]}"
build_s=$(($(date +%s) - build_start))
echo "built in ${build_s} s"

mkdir -p bench-results
logs=$(mktemp -d)
trap 'rm -rf "$logs"' EXIT
entries=()
status=0
for target in $TARGETS; do
    corpus="fuzz/corpus/$target"
    artifacts="fuzz/artifacts/$target"
    mkdir -p "$corpus" "$artifacts"
    before=$(ls "$artifacts" | sort)
    log="$logs/$target.log"
    echo "== $target: ${SECONDS_PER_TARGET} s"
    start=$(date +%s)
    set +e
    # The binary built above, run as `cargo fuzz run` would (its ASAN_OPTIONS and artifact
    # prefix) but without a rebuild when the tree changed since. The first corpus directory
    # receives new inputs; the seeds are only read. A hang past 10 s is a crash (a timeout).
    ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_odr_violation=0" "${NICE[@]}" \
        "fuzz/target/$HOST/release/$target" "$corpus" "fuzz/seeds/$target" \
        -artifact_prefix="$artifacts/" -max_total_time="$SECONDS_PER_TARGET" -timeout=10 \
        -print_final_stats=1 >"$log" 2>&1
    exit_code=$?
    set -e
    run_s=$(($(date +%s) - start))
    new=$(comm -13 <(echo "$before") <(ls "$artifacts" | sort) | sed '/^$/d')
    crashes=$(echo -n "$new" | grep -c . || true)
    # libFuzzer's final stats; after a crash there are none, and its last status line says how
    # many inputs ran.
    executions=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
    if [ -z "$executions" ]; then
        executions=$(grep -o '^#[0-9]*' "$log" | tail -1 | tr -d '#')
    fi
    executions=${executions:-0}
    rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -1)
    rss=$(sed -n 's/^stat::peak_rss_mb: *//p' "$log" | tail -1)
    cov=$(grep -o 'cov: [0-9]*' "$log" | tail -1 | tr -dc '0-9')
    corpus_size=$(ls "$corpus" | wc -l)
    caught=$(grep -c 'caught SDP parser panic' "$log" || true)
    artifact_list=$(echo -n "$new" | sed "s|^|\"$artifacts/|; s|$|\"|" | paste -sd, -)
    entries+=("$(printf '{"target":"%s","seconds":%s,"executions":%s,"execs_per_s":%s,"peak_rss_mb":%s,"coverage":%s,"corpus_files":%s,"crashes":%s,"artifacts":[%s],"caught_parser_panics_seen":%s,"exit_code":%s}' \
        "$target" "$run_s" "$executions" "${rate:-null}" "${rss:-null}" "${cov:-null}" "$corpus_size" \
        "$crashes" "$artifact_list" "$([ "$caught" -gt 0 ] && echo true || echo false)" "$exit_code")")
    printf '%-13s %4s s  %10s executions  %6s/s  cov %5s  corpus %5s  crashes %s%s\n' \
        "$target" "$run_s" "$executions" "${rate:-?}" "${cov:-?}" "$corpus_size" "$crashes" \
        "$([ -n "$new" ] && echo " ($(echo "$new" | sed "s|^|$artifacts/|" | paste -sd' ' -))")"
    if [ "$exit_code" -ne 0 ] || [ "$crashes" -gt 0 ]; then
        status=1
        echo "--- $target: the end of libFuzzer's log"
        tail -40 "$log"
    fi
done

{
    printf '{"date":"%s","commit":"%s","cores":%s,"sanitizer":"%s","seconds_per_target":%s,"build_seconds":%s,"targets":[' \
        "$(date -u +%Y-%m-%dT%H:%M:%SZ)" "$(git describe --always --dirty)" "$(nproc)" "$SANITIZER" \
        "$SECONDS_PER_TARGET" "$build_s"
    (IFS=,; printf '%s' "${entries[*]}")
    printf ']}\n'
} >"$REPORT"
echo "report: $REPORT"
exit "$status"
