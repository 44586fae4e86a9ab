#!/usr/bin/env bash
# Stop tests on an oversubscribed machine (issue 32; not in CI): runs the browser and sound-card
# stop tests N times with three busy processes on the cores (`python3 -c 'while True: pass'`),
# and prints runs, passes and signals (a run whose server or talk process was ended by a
# signal, as the harness reports it: "signal SIGSEGV").
#
#   bash scripts/stress_stop.sh [N=10] [TEST_FILTER...]
#
# Default filters: the closed-tab browser test, the sound-card (talk) and converse stop tests. The tests are built
# first, before the busy processes start; the busy processes are killed when the script ends.
# Each run's output is kept in $STRESS_LOG_DIR (default: a temporary directory).
set -uo pipefail
cd "$(dirname "$0")/.."
runs=${1:-10}
shift || true
if [[ $# -gt 0 ]]; then
    filters=("$@")
else
    filters=("browser_webrtc:a_tab_closed" "desktop_pulse:talk_stopped" "stop_signals:converse_stopped")
fi
busy=${STRESS_BUSY:-3}
logs=${STRESS_LOG_DIR:-$(mktemp -d -t duplex-stress-stop.XXXXXX)}
mkdir -p "$logs"

# Built once; the runs call the test executables directly, so nothing is rebuilt under load.
declare -A exe
for f in "${filters[@]}"; do
    target=${f%%:*}
    cargo test --release --no-run --test "$target" >"$logs/build.$target.log" 2>&1 || {
        echo "stress_stop.sh: $target does not build (see $logs/build.$target.log)" >&2
        exit 2
    }
    exe[$target]=$(sed -n 's/.*Executable .*(\(.*\)).*/\1/p' "$logs/build.$target.log" | tail -1)
    [[ -x "${exe[$target]}" ]] || { echo "stress_stop.sh: no executable for $target" >&2; exit 2; }
done

pids=()
stop_busy() {
    # CONT after TERM: a paused process acts on its TERM only once it runs again.
    for p in "${pids[@]}"; do kill "$p" 2>/dev/null; kill -CONT "$p" 2>/dev/null; done
    pids=()
}
trap stop_busy EXIT INT TERM
for _ in $(seq "$busy"); do
    python3 -c 'while True: pass' &
    pids+=($!)
done

total=0 passed=0 signals=0
for i in $(seq "$runs"); do
    for f in "${filters[@]}"; do
        # Someone measuring latency (/tmp/quiet): pause the busy processes and wait.
        if [[ -e /tmp/quiet ]]; then
            kill -STOP "${pids[@]}" 2>/dev/null
            while [[ -e /tmp/quiet ]]; do sleep 20; done
            kill -CONT "${pids[@]}" 2>/dev/null
        fi
        name=${f//[^A-Za-z0-9_]/_}
        log="$logs/$i.$name.log"
        total=$((total + 1))
        if "${exe[${f%%:*}]}" "${f#*:}" --test-threads=1 --nocapture >"$log" 2>&1; then
            passed=$((passed + 1))
            verdict=pass
        else
            verdict=FAIL
        fi
        # How each stopped process ended, as the harnesses report it.
        # (browser harness: "serverExit":"signal SIGSEGV"; desktop_pulse: "signal 11"; stop_signals:
        # "ended by a signal")
        if grep -qE '"serverExit":"signal |"signal [0-9]+"|ended by a signal' "$log"; then
            signals=$((signals + 1))
            verdict="$verdict (signal)"
        fi
        echo "run $i $f: $verdict ($log)"
    done
done
echo "runs $total, passes $passed, signals $signals (busy processes: $busy on $(nproc) cores)"
[[ $passed -eq $total ]]
