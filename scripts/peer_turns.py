#!/usr/bin/env python3
"""The reference peer's end-of-turn decisions on the turn-taking benchmark (issue 31).

Runs Pipecat's own turn-taking parts, as the peer bot in ../shared/peer/bot.py sets them up,
over each recording of the benchmark: SileroVADAnalyzer with VADParams(stop_secs=0.2) and
LocalSmartTurnAnalyzerV3 (the same models/smart-turn-v3.2-cpu.onnx as duplex) with its default
SmartTurnParams (a 3 s silence ends a turn the model called incomplete), driven as Pipecat's
TurnAnalyzerUserTurnStopStrategy drives them: the model is asked when the VAD reports the user
stopped; "complete" ends the turn at once (Whisper's transcripts are final and, here, instant);
"incomplete" waits for more speech or for the silence limit.

Time is virtual: 20 ms frames are fed one after the other and the analyzer's clock is the
position in the recording, so the decisions do not depend on the machine's speed. Writes
{"settings": ..., "items": {id: {"decisions_s": [...], "scores": [...]}}} for
`duplex bench turns --peer`.

  ~/.cache/duplex-peer/venv/bin/python scripts/peer_turns.py --fixtures target/turn-fixtures \
      --output bench-results/peer_turns.json
"""

import argparse
import asyncio
import importlib.metadata
import json
import os
import time
import wave

from pipecat.audio.turn.base_turn_analyzer import EndOfTurnState
from pipecat.audio.turn.smart_turn import base_smart_turn
from pipecat.audio.turn.smart_turn.local_smart_turn_v3 import LocalSmartTurnAnalyzerV3
from pipecat.audio.vad.silero import SileroVADAnalyzer
from pipecat.audio.vad.vad_analyzer import VADParams, VADState

RATE = 16_000
FRAME = 320  # 20 ms, as the peer's file transport sends it
VAD_STOP_SECS = 0.2  # the peer bot's setting (Pipecat's recommendation with smart-turn)


class VirtualClock:
    """Stands in for the `time` module inside Pipecat's smart-turn analyzer: monotonic() is
    the position in the recording; everything else is the real module."""

    def __init__(self):
        self.now = 0.0

    def monotonic(self):
        return self.now

    def __getattr__(self, name):
        return getattr(time, name)


async def decisions(path, vad, turn, clock):
    """End-of-turn times (s) over one recording, and the model's scores when it was asked."""
    with wave.open(path) as w:
        pcm = w.readframes(w.getnframes())
    vad.set_sample_rate(RATE)
    turn.set_sample_rate(RATE)
    turn.clear()
    clock.now = 0.0
    state, speaking, found, scores = VADState.QUIET, False, [], []
    step = FRAME * 2
    for i in range(0, len(pcm) // step * step, step):
        frame = pcm[i : i + step]
        clock.now = (i + step) / 2 / RATE
        ended = False
        new = await vad.analyze_audio(frame)
        if new != state and new in (VADState.SPEAKING, VADState.QUIET):
            if new == VADState.SPEAKING:
                # A user turn starts (or goes on): any conclusion so far is dropped.
                turn.update_vad_start_secs(vad.params.start_secs)
                speaking = True
            elif speaking:
                speaking = False
                result, metrics = await turn.analyze_end_of_turn()
                if metrics is not None:
                    scores.append({"at_s": clock.now, "probability": metrics.probability})
                ended = result == EndOfTurnState.COMPLETE
            state = new
        if not ended and turn.append_audio(frame, speaking) == EndOfTurnState.COMPLETE:
            ended = True
        if ended:
            found.append(round(clock.now, 3))
            turn.clear()
    return found, scores


async def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--fixtures", default="target/turn-fixtures")
    parser.add_argument("--model", default="models/smart-turn-v3.2-cpu.onnx")
    parser.add_argument("--output", default="bench-results/peer_turns.json")
    args = parser.parse_args()
    clock = VirtualClock()
    base_smart_turn.time = clock
    labels = json.load(open(os.path.join(args.fixtures, "labels.json")))
    turn = LocalSmartTurnAnalyzerV3(smart_turn_model_path=args.model)
    items = {}
    for item in labels["items"]:
        # A fresh VAD per recording, as a new call would have.
        vad = SileroVADAnalyzer(params=VADParams(stop_secs=VAD_STOP_SECS))
        found, scores = await decisions(os.path.join(args.fixtures, item["file"]), vad, turn, clock)
        items[item["id"]] = {"decisions_s": found, "scores": scores}
        print(f"{item['id']}: ends of turn at {found}", flush=True)
    settings = {
        "pipecat": importlib.metadata.version("pipecat-ai"),
        "vad": dict(VADParams(stop_secs=VAD_STOP_SECS)),
        "smart_turn": dict(turn.params),
        "model": args.model,
        "transcripts": "final and instant (a segmented Whisper's are final)",
    }
    os.makedirs(os.path.dirname(args.output) or ".", exist_ok=True)
    with open(args.output, "w") as f:
        json.dump({"settings": settings, "items": items}, f, indent=1)
    print(f"peer decisions for {len(items)} recordings -> {args.output}")


if __name__ == "__main__":
    asyncio.run(main())
