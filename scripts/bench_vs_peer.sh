#!/usr/bin/env bash
# Voice-to-voice latency of duplex against the reference peer (Pipecat with the same models,
# ../shared/peer/, not part of this project) on the same fixtures in the same run, and the ratios
# that the latency goal is stated in; optionally duplex again with one core kept busy by another
# process for the whole run (the loaded figures).
#
#   bash scripts/bench_vs_peer.sh                 # 3 runs: peer, then duplex, on the same files
#   RUNS=1 LOAD=1 bash scripts/bench_vs_peer.sh   # 1 run, plus duplex under load
#   BRAINS=balanced,fast bash scripts/bench_vs_peer.sh   # duplex on each brain, the peer on the first
#
# Settings: RUNS (3), BRAINS (comma-separated `--brain` names, default: duplex's default brain;
# duplex runs on each in turn, and the peer on the first brain's model file, so the first ratio
# is same-model; `PEER_LLM_MODEL` overrides the peer's file), LOAD (0; 1 adds a loaded duplex run after each quiet one, with the
# two-question conversation fixture added to count lost or merged turns), PEER_DIR
# (../shared/peer), FIXTURES (comma-separated; default: every single-utterance speech fixture
# recorded at 16 kHz mono, the only input the peer's file transport reads). Writes bench-results/vs_peer.json and prints one line per run.
# Both sides' percentiles are computed here the same way (nearest rank) from their per-utterance
# figures. Needs the README's set-up; builds llama-server for the peer once (about 10 min).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
RUNS="${RUNS:-3}"
LOAD="${LOAD:-0}"
BRAINS="${BRAINS:-balanced}"
IFS=, read -r -a BRAIN_LIST <<< "$BRAINS"
PEER_DIR="${PEER_DIR:-$ROOT/../shared/peer}"
OUT="$ROOT/bench-results/vs-peer"
[[ -f "$PEER_DIR/run.sh" ]] || {
    echo "bench_vs_peer: the reference peer is not at $PEER_DIR (set PEER_DIR)" >&2
    exit 1
}
export ORT_DYLIB_PATH="${ORT_DYLIB_PATH:-$(ls "$ROOT"/models/libonnxruntime.so.* | head -n 1)}"
cargo build --release --quiet
DUPLEX="$ROOT/target/release/duplex"
brain_file() {
    python3 -c 'import json, sys
print(next((f["file"] for f in json.load(open("scripts/models.lock.json"))["files"]
            if f.get("brain") == sys.argv[1]), ""))' "$1"
}
PEER_LLM_MODEL="${PEER_LLM_MODEL:-$(brain_file "${BRAIN_LIST[0]}")}"
[[ -n "$PEER_LLM_MODEL" ]] || { echo "bench_vs_peer: no model file for brain ${BRAIN_LIST[0]}" >&2; exit 1; }
export PEER_LLM_MODEL
LLAMA_SERVER="$(bash scripts/build_llama_server.sh)"
if [[ -z "${FIXTURES:-}" ]]; then
    FIXTURES="$(python3 -c '
import json, wave
def peer_reads(name):
    try:
        with wave.open("audio-fixtures/" + name) as w:
            return w.getframerate() == 16000 and w.getnchannels() == 1
    except wave.Error:  # not plain PCM: the peer cannot read it either
        return False
m = json.load(open("audio-fixtures/manifest.json"))
print(",".join(f["file"] for f in m
               if f.get("reference") and f["file"] != "conversation.wav" and peer_reads(f["file"])))')"
fi
mkdir -p "$OUT"
rm -f "$OUT"/run*.json "$OUT"/run*.peer


for run in $(seq "$RUNS"); do
    echo "== run $run of $RUNS: the peer on the same fixtures"
    PEER_PROJECT="$ROOT" PEER_LLAMA_SERVER="$LLAMA_SERVER" PEER_MAX_LOAD="${PEER_MAX_LOAD:-1.5}" \
        bash "$PEER_DIR/run.sh" --files "$FIXTURES" | tee "$OUT/run$run.peer.log"
    sed -n 's/.*out: //p' "$OUT/run$run.peer.log" | tail -n 1 > "$OUT/run$run.peer"
    for brain in "${BRAIN_LIST[@]}"; do
        echo "== run $run of $RUNS: duplex --brain $brain"
        "$DUPLEX" --brain "$brain" bench latency --fixtures "$FIXTURES" \
            --output "$OUT/run$run.duplex.$brain.json" | tail -n 3
    done
    if [[ "$LOAD" == 1 ]]; then
        echo "== run $run of $RUNS: duplex with one core kept busy"
        # Another process keeping one core busy for as long as the run lasts.
        python3 -c 'while True: pass' > /dev/null 2>&1 &
        SPIN=$!
        trap 'kill "$SPIN" 2>/dev/null || true' EXIT
        "$DUPLEX" --brain "${BRAIN_LIST[0]}" bench latency --fixtures "$FIXTURES,conversation.wav" \
            --output "$OUT/run$run.loaded.json" | tail -n 3
        kill "$SPIN"
        trap - EXIT
    fi
done

python3 - "$OUT" "$RUNS" "$BRAINS" "$PEER_LLM_MODEL" <<'EOF'
import json, pathlib, sys

out, runs = pathlib.Path(sys.argv[1]), int(sys.argv[2])
brains, peer_model = sys.argv[3].split(","), sys.argv[4]

def pct(xs, p):
    xs = sorted(xs)
    return xs[round((len(xs) - 1) * p)] if xs else None

def duplex_side(path):
    r = json.loads(path.read_text())
    rows = [u for u in r["utterances"] if u["fixture"] != "conversation.wav"]
    xs = [u["voice_to_voice_ms"] for u in rows if u["voice_to_voice_ms"] is not None]
    return {"p50_ms": pct(xs, .5), "p95_ms": pct(xs, .95), "n": len(xs),
            "stage_medians_ms": r["stage_medians_ms"], "turns_lost": r.get("turns_lost"),
            "turns_merged": r.get("turns_merged"),
            "reply_gaps_over_120_ms": r.get("reply_gaps_over_120_ms")}

def peer_side(run):
    res = json.loads((pathlib.Path((out / f"run{run}.peer").read_text().strip()) / "results.json").read_text())
    rows = res["single"]  # the same files as duplex; its 5-turn conversation is left out
    xs = [u["latency_ms"] for u in rows if u["latency_ms"] is not None]
    stages = {}
    for key in ("vad_stop", "stt_text", "turn_end", "llm_token", "tts_audio"):
        stages[key] = pct([u["stages_ms"][key] for u in rows if key in u["stages_ms"]], .5)
    return {"p50_ms": pct(xs, .5), "p95_ms": pct(xs, .95), "n": len(xs),
            "stage_medians_ms_after_end_of_speech": stages,
            "split_turns": sum(u["user_turns"] != 1 for u in rows)}

report = {"bench": "latency against the reference peer", "peer_llm_model": peer_model,
          "brains": brains, "runs": []}
for run in range(1, runs + 1):
    peer = peer_side(run)
    row = {"run": run, "peer": peer, "brains": {}}
    line = f"run {run}: peer ({peer_model}) p50 {peer['p50_ms']:.0f} / p95 {peer['p95_ms']:.0f} ms (n={peer['n']})"
    for brain in brains:
        duplex = duplex_side(out / f"run{run}.duplex.{brain}.json")
        row["brains"][brain] = {"duplex": duplex,
                                "ratio_p50": round(duplex["p50_ms"] / peer["p50_ms"], 3),
                                "ratio_p95": round(duplex["p95_ms"] / peer["p95_ms"], 3)}
        line += (f"\n  duplex --brain {brain}: p50 {duplex['p50_ms']:.0f} / p95 {duplex['p95_ms']:.0f} ms "
                 f"(n={duplex['n']}); ratio to the peer p50 {row['brains'][brain]['ratio_p50']}, "
                 f"p95 {row['brains'][brain]['ratio_p95']}")
    first = row["brains"][brains[0]]["duplex"]
    for brain in brains[1:]:
        other = row["brains"][brain]["duplex"]
        row[f"{brains[0]}_over_{brain}_p50"] = round(first["p50_ms"] / other["p50_ms"], 3)
        line += f"\n  p50 {brains[0]} / {brain}: {row[f'{brains[0]}_over_{brain}_p50']}"
    duplex = first
    loaded_path = out / f"run{run}.loaded.json"
    if loaded_path.exists():
        loaded = duplex_side(loaded_path)
        row["loaded"] = loaded
        row["loaded_over_quiet_p50"] = round(loaded["p50_ms"] / duplex["p50_ms"], 3)
        line += (f"; loaded p50 {loaded['p50_ms']:.0f} ms = {row['loaded_over_quiet_p50']}x quiet "
                 f"(goal <= 1.5), turns lost {loaded['turns_lost']}, merged {loaded['turns_merged']}")
    report["runs"].append(row)
    print(line)
(out.parent / "vs_peer.json").write_text(json.dumps(report, indent=1))
print(f"-> {out.parent / 'vs_peer.json'}")
EOF
