#!/usr/bin/env bash
# Idle listening cost of `duplex talk`: the shipped binary on the private virtual sound card
# (scripts/virtual_sound_card.sh) hears only silence for MEASURE_S seconds (default 30) after a
# warm-up; the CPU time of the process (utime + stime from /proc/PID/stat) and of its LLM worker
# over that window, as a percentage of one core, is written to bench-results/desktop.json
# (merged into what is there) and printed.
#
#   bash scripts/bench_desktop_idle.sh [MEASURE_S]
set -euo pipefail
cd "$(dirname "$0")/.."

measure_s="${1:-30}"
warmup_s=5
cargo build --release --bin duplex --bin duplex-llm >/dev/null
dir="$(mktemp -d)"
trap '[[ -n "${talk_pid:-}" ]] && kill "$talk_pid" 2>/dev/null && wait "$talk_pid" 2>/dev/null; bash scripts/virtual_sound_card.sh stop "$dir"; rm -rf "$dir"' EXIT
eval "$(bash scripts/virtual_sound_card.sh start "$dir")"

./target/release/duplex talk --seconds $((measure_s + warmup_s + 60)) 2>"$dir/talk.err" >/dev/null &
talk_pid=$!
for _ in $(seq 360); do
    grep -q "listening on" "$dir/talk.err" && break
    kill -0 "$talk_pid" 2>/dev/null || { cat "$dir/talk.err" >&2; exit 1; }
    sleep 0.5
done
grep -q "listening on" "$dir/talk.err" || { echo "duplex talk did not start" >&2; exit 1; }
sleep "$warmup_s"

ticks() { # utime + stime of a pid, in clock ticks
    awk '{print $14 + $15}' "/proc/$1/stat"
}
llm_pid="$(pgrep -P "$talk_pid" -f duplex-llm | head -1 || true)"
main_before="$(ticks "$talk_pid")"
llm_before="$( [[ -n "$llm_pid" ]] && ticks "$llm_pid" || echo 0)"
start_ns="$(date +%s%N)"
sleep "$measure_s"
main_after="$(ticks "$talk_pid")"
llm_after="$( [[ -n "$llm_pid" ]] && ticks "$llm_pid" || echo 0)"
end_ns="$(date +%s%N)"
threads="$(ps -L -o comm=,time= -p "$talk_pid" | sort -k2 -r | head -8 | tr -s ' ' | paste -sd ';')"

python3 - "$main_before" "$main_after" "$llm_before" "$llm_after" "$start_ns" "$end_ns" \
    "$(getconf CLK_TCK)" "$threads" <<'PY'
import json, os, sys
mb, ma, lb, la, s, e, tck = (float(x) for x in sys.argv[1:8])
wall = (e - s) / 1e9
main = 100.0 * (ma - mb) / tck / wall
llm = 100.0 * (la - lb) / tck / wall
path = "bench-results/desktop.json"
os.makedirs("bench-results", exist_ok=True)
data = json.load(open(path)) if os.path.exists(path) else {}
data["idle_listening"] = {
    "what": "duplex talk hearing silence on the virtual sound card (PulseAudio null sinks via ALSA), AEC on",
    "measured_s": round(wall, 2),
    "cpu_percent_of_one_core": round(main, 2),
    "llm_worker_cpu_percent_of_one_core": round(llm, 2),
    "cpu_clock_ticks_per_s": tck,
    "threads_cumulative_cpu": sys.argv[8],
}
json.dump(data, open(path, "w"), indent=2)
print(json.dumps(data["idle_listening"], indent=2))
PY
