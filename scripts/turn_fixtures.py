#!/usr/bin/env python3
"""The turn-taking benchmark's recordings (issue 31), from audio-fixtures/turns/manifest.json.

  python3 scripts/turn_fixtures.py synth [--only ID,...]  # speaks the synthetic items into
                                                         # audio-fixtures/turns/
  python3 scripts/turn_fixtures.py compose  # builds the bench's recordings and labels into a cache

`synth` speaks every synthetic item with '...' at its '|' (Piper through `duplex say`, or
espeak-ng), finds the pause the voice made there (the silent gap nearest to where the words before
the '|' end when spoken alone) and records its middle in audio-fixtures/turns/cuts.json.

`compose` makes one recording per item: 0.3 s of the recording's own room tone, the speech with a
pause stretched to `pause_s` at the '|' (the room tone, tiled), and 5 s of room tone after the end.
It writes them with labels.json: for each pause and end, where the speech stopped and (for a pause)
where it resumed, measured on the result as the bench measures speech (10 ms frames above
-40 dBFS), and its truth: a pause is "not finished", an end is "finished". Pure Python, no random
numbers: the same inputs give byte-identical output.
"""

import argparse
import array
import json
import math
import os
import subprocess
import sys
import tempfile
import wave

RATE = 16_000
FRAME = RATE // 100  # 10 ms
VOICED_DBFS = -40.0
LEAD_S = 0.3
TAIL_S = 5.0
ROOM_TONE_S = 0.05

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FIXTURES = os.path.join(REPO, "audio-fixtures")
TURNS = os.path.join(FIXTURES, "turns")


def read_wav(path):
    with wave.open(path) as w:
        if (w.getframerate(), w.getnchannels(), w.getsampwidth()) != (RATE, 1, 2):
            sys.exit(f"{path}: not 16 kHz mono 16-bit")
        return array.array("h", w.readframes(w.getnframes()))


def write_wav(path, samples):
    with wave.open(path, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(RATE)
        w.writeframes(samples.tobytes())


def frame_dbfs(samples):
    """Level of each 10 ms frame in dBFS."""
    out = []
    for i in range(0, len(samples), FRAME):
        f = samples[i : i + FRAME]
        rms = math.sqrt(sum(x * x for x in f) / len(f)) / 32768.0
        out.append(20 * math.log10(rms + 1e-9))
    return out


def silent_runs(samples, min_frames=1):
    """(first, end) frame indices of runs of frames under the voiced level."""
    runs, start = [], None
    for i, db in enumerate(frame_dbfs(samples) + [0.0]):
        if db < VOICED_DBFS:
            start = i if start is None else start
        elif start is not None:
            if i - start >= min_frames:
                runs.append((start, i))
            start = None
    return runs


def voiced_end(samples):
    """Sample just after the last voiced frame."""
    db = frame_dbfs(samples)
    last = max((i for i, d in enumerate(db) if d >= VOICED_DBFS), default=-1)
    return min(len(samples), (last + 1) * FRAME)


def parts(item):
    before, _, after = item["text"].partition(" | ")
    return before, after


def spoken(item):
    before, after = parts(item)
    return f"{before}... {after}" if after else before


def speak(item, text, path):
    if item["voice"] == "piper":
        duplex = os.path.join(REPO, "target/release/duplex")
        subprocess.run([duplex, "say", text, "-o", path, "--rate", str(RATE)], check=True,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    elif item["voice"] == "espeak":
        raw = path + ".raw.wav"
        subprocess.run(["espeak-ng", "-v", "en-us", "-w", raw, text], check=True)
        subprocess.run(["sox", "-D", raw, "-r", str(RATE), "-b", "16", "-c", "1", path], check=True)
        os.remove(raw)
    else:
        raise ValueError(item["voice"])


def synth(manifest, only):
    cuts_path = os.path.join(TURNS, "cuts.json")
    cuts = json.load(open(cuts_path)) if only and os.path.exists(cuts_path) else {}
    with tempfile.TemporaryDirectory() as tmp:
        for item in manifest["items"]:
            if item["voice"] == "real" or (only and item["id"] not in only):
                continue
            path = os.path.join(TURNS, f"{item['id']}.wav")
            speak(item, spoken(item), path)
            before, after = parts(item)
            if not after:
                print(f"{item['id']}: {spoken(item)!r}")
                continue
            prefix = os.path.join(tmp, "prefix.wav")
            speak(item, before + "...", prefix)
            expected = voiced_end(read_wav(prefix))
            samples = read_wav(path)
            gaps = [(a, b) for a, b in silent_runs(samples, 6) if a > 0 and b * FRAME < len(samples)]
            a, b = min(gaps, key=lambda g: abs(g[0] * FRAME - expected))
            cuts[item["id"]] = round((a + b) * FRAME / 2 / RATE, 3)
            print(f"{item['id']}: {spoken(item)!r} pause at {cuts[item['id']]:.2f} s "
                  f"(words before it end at {expected / RATE:.2f} s spoken alone)")
    with open(cuts_path, "w") as f:
        json.dump(cuts, f, indent=1, sort_keys=True)
        f.write("\n")


def refine_cut(samples, near_s):
    """The cut at a word end given by time: the middle of the longest silent run within 40 ms
    of it, else exactly there."""
    lo, hi = int((near_s - 0.04) * RATE) // FRAME, int((near_s + 0.04) * RATE) // FRAME
    runs = [(a, b) for a, b in silent_runs(samples) if b > lo and a < hi]
    if runs:
        a, b = max(runs, key=lambda r: r[1] - r[0])
        return (a + b) * FRAME // 2
    return int(near_s * RATE)


def room_tone(samples, seconds):
    """`seconds` of the recording's own background: its 50 ms whose loudest 10 ms frame is the
    quietest (digital silence only where nothing else is quiet: a synthetic voice's background),
    tiled forward and backward so that no joint clicks."""
    n = int(ROOM_TONE_S * RATE)
    db = frame_dbfs(samples)
    per_window = n // FRAME
    windows = range(0, len(db) - per_window + 1)
    loudest = {i: max(db[i : i + per_window]) for i in windows}
    live = [i for i in windows if min(db[i : i + per_window]) > -90 and loudest[i] < -45]
    best = min(live or windows, key=loudest.get) * FRAME
    tone = samples[best : best + n]
    out, forward = array.array("h"), True
    while len(out) < int(seconds * RATE):
        out.extend(tone if forward else tone[::-1])
        forward = not forward
    return out[: int(seconds * RATE)]


def gap_around(samples, cut):
    """Length in samples of the silent run holding sample `cut` (0 if it is voiced)."""
    for a, b in silent_runs(samples):
        if a * FRAME <= cut < b * FRAME:
            return (b - a) * FRAME
    return 0


def compose(manifest, out_dir):
    os.makedirs(out_dir, exist_ok=True)
    cuts_path = os.path.join(TURNS, "cuts.json")
    cuts = json.load(open(cuts_path)) if os.path.exists(cuts_path) else {}
    labelled = []
    for item in manifest["items"]:
        source = (os.path.join(FIXTURES, item["source"]) if item["voice"] == "real"
                  else os.path.join(TURNS, f"{item['id']}.wav"))
        speech = read_wav(source)
        lead = room_tone(speech, LEAD_S)
        audio = array.array("h", lead)
        points = []
        if "pause_s" in item:
            if item["voice"] == "real":
                cut = refine_cut(speech, item["cut_after_s"])
            elif item["id"] in cuts:
                cut = int(cuts[item["id"]] * RATE)
            else:
                sys.exit(f"{item['id']}: no cut in {cuts_path}: run `turn_fixtures.py synth`")
            extra = max(0.0, item["pause_s"] - gap_around(speech, cut) / RATE)
            audio.extend(speech[:cut])
            pause_at = len(audio)
            audio.extend(room_tone(speech, extra))
            audio.extend(speech[cut:])
            db = frame_dbfs(audio)
            voiced = [i for i, d in enumerate(db) if d >= VOICED_DBFS]
            end = max((i for i in voiced if i * FRAME < pause_at), default=0) + 1
            resume = min((i for i in voiced if i * FRAME >= pause_at), default=len(db))
            points.append({"speech_end_s": end * FRAME / RATE, "resume_s": resume * FRAME / RATE,
                           "finished": False, "kind": item["kind"]})
        else:
            audio.extend(speech)
        points.append({"speech_end_s": voiced_end(audio) / RATE, "resume_s": None,
                       "finished": True, "kind": item["end"]})
        audio.extend(room_tone(speech, TAIL_S))
        name = f"{item['id']}.wav"
        write_wav(os.path.join(out_dir, name), audio)
        labelled.append({"id": item["id"], "file": name, "voice": item["voice"],
                         "text": item["text"], "points": points})
    with open(os.path.join(out_dir, "labels.json"), "w") as f:
        json.dump({"items": labelled}, f, indent=1)
        f.write("\n")
    pauses = sum(len(i["points"]) for i in labelled)
    print(f"composed {len(labelled)} recordings with {pauses} labelled points in {out_dir}")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("step", choices=["synth", "compose"])
    parser.add_argument("--out", default=os.path.join(REPO, "target/turn-fixtures"),
                        help="where compose writes the recordings and labels.json")
    parser.add_argument("--only", default="", help="synth: these ids only (comma-separated)")
    args = parser.parse_args()
    manifest = json.load(open(os.path.join(TURNS, "manifest.json")))
    if args.step == "synth":
        synth(manifest, [i for i in args.only.split(",") if i])
    else:
        compose(manifest, args.out)


if __name__ == "__main__":
    main()
