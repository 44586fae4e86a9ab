"""A Realtime client nobody here wrote (the official `openai` package's realtime client) holding
a spoken turn with `duplex serve` (run by tests/realtime_openai.rs).

    python3 client.py WS_BASE_URL WAV SCENARIO API_KEY

WS_BASE_URL is the server's `ws://HOST:PORT/v1`; WAV a 16-bit mono recording of the user's
words, resampled here to the protocol's 24 kHz; API_KEY the server's --api-key (the SDK sends it
as its bearer token). SCENARIO:

  vanish  appends a second of the recording, then drops the TCP connection without a close;
  turn    first sends bad input on the same socket (invalid JSON, an unknown event type, an
          oversized append; each must get an `error` event and leave the session running), then
          streams the recording and silence in real time, 20 ms per append, until
          `response.done`;
  commit  with turn_detection null: appends the whole recording at once, commits it, asks for a
          response, and reads until `response.done`;
  cancel  streams the recording and silence; at the reply's first audio delta sends
          `response.cancel`, then reads for two seconds more, counting audio deltas after it;
  barge_in streams the recording and silence; once the reply has sent a second of audio,
          streams the recording again over it; reads until a `response.done` that completed
          (or PATIENCE_S), reporting every response's status.

Prints one JSON report on stdout (the event types seen, in order, a run of one type as one; the user's transcript; the
reply's transcript and its audio's length; the error codes), and exits 0; any failure to talk
exits non-zero with the reason on stderr. The Rust test asserts on the report.
"""

import asyncio
import base64
import json
import struct
import sys
import wave

try:
    from openai import AsyncOpenAI
    import websockets  # noqa: F401  (the realtime client's transport, from openai[realtime])
except ImportError as missing:
    sys.stderr.write(
        f"missing Python package ({missing}): "
        'python3 -m pip install "openai[realtime]==2.8.1" (or bash scripts/setup_test_deps.sh)\n'
    )
    sys.exit(3)

RATE = 24_000
CHUNK = RATE // 50  # 20 ms
PATIENCE_S = 240.0


def load_24k(path):
    """The recording as 16-bit samples at 24 kHz (linear interpolation)."""
    with wave.open(path) as w:
        if w.getnchannels() != 1 or w.getsampwidth() != 2:
            raise SystemExit(f"{path}: need 16-bit mono")
        rate = w.getframerate()
        frames = w.readframes(w.getnframes())
    samples = struct.unpack(f"<{len(frames) // 2}h", frames)
    n = len(samples) * RATE // rate
    out = []
    for i in range(n):
        x = i * rate / RATE
        j = int(x)
        k = min(j + 1, len(samples) - 1)
        out.append(int(round(samples[j] + (samples[k] - samples[j]) * (x - j))))
    return out


def pcm_b64(samples):
    return base64.b64encode(struct.pack(f"<{len(samples)}h", *samples)).decode()


async def vanish(client, speech):
    async with client.realtime.connect(model="duplex") as conn:
        first = await conn.recv()
        for i in range(0, RATE, CHUNK):
            await conn.input_audio_buffer.append(audio=pcm_b64(speech[i : i + CHUNK] or [0] * CHUNK))
        # Gone without a close frame, as a crashed client or a pulled cable.
        conn._connection.transport.abort()
        return {"first_event": first.type}


async def turn(client, speech):
    report = {
        "events": [],
        "errors": [],
        "user_transcript": "",
        "reply_transcript_deltas": "",
        "reply_transcript_done": "",
        "reply_audio_samples": 0,
        "response_status": None,
    }
    async with client.realtime.connect(model="duplex") as conn:
        created = await conn.recv()
        report["events"].append(created.type)
        await conn.session.update(
            session={
                "type": "realtime",
                "instructions": "You are a helpful voice assistant.",
                "audio": {
                    "input": {
                        "format": {"type": "audio/pcm", "rate": RATE},
                        "turn_detection": {"type": "server_vad"},
                    },
                    "output": {"format": {"type": "audio/pcm", "rate": RATE}, "voice": "alloy"},
                },
            }
        )
        # Bad input, each answered by an error event; the session goes on.
        raw = conn._connection
        await raw.send("{this is not json")
        await raw.send(json.dumps({"type": "no.such.event", "event_id": "evt_bad_type"}))
        await raw.send(
            json.dumps({"type": "input_audio_buffer.append", "audio": pcm_b64([0] * (RATE * 30))})
        )
        done = asyncio.Event()

        loop = asyncio.get_running_loop()
        recording_sent = []

        async def stream():
            silence = [0] * CHUNK
            sent = 0
            while not done.is_set():
                chunk = speech[sent : sent + CHUNK] if sent < len(speech) else silence
                if len(chunk) < CHUNK:
                    chunk = chunk + [0] * (CHUNK - len(chunk))
                sent += CHUNK
                await conn.input_audio_buffer.append(audio=pcm_b64(chunk))
                if sent >= len(speech) and not recording_sent:
                    recording_sent.append(loop.time())
                await asyncio.sleep(CHUNK / RATE)

        # Half a second of silence before the words, as a microphone opened before speaking.
        speech = [0] * (RATE // 2) + speech
        sender = asyncio.create_task(stream())
        try:
            async for event in conn:
                if report["events"][-1] != event.type:  # runs of deltas as one
                    report["events"].append(event.type)
                if event.type == "error":
                    report["errors"].append(event.error.code)
                elif event.type == "conversation.item.input_audio_transcription.completed":
                    report["user_transcript"] += event.transcript
                elif event.type == "response.output_audio.delta":
                    if not report["reply_audio_samples"] and recording_sent:
                        # Measured, not asserted: the end of the recording to the first audio.
                        report["first_audio_after_recording_s"] = loop.time() - recording_sent[0]
                    report["reply_audio_samples"] += len(base64.b64decode(event.delta)) // 2
                elif event.type == "response.output_audio_transcript.delta":
                    report["reply_transcript_deltas"] += event.delta
                elif event.type == "response.output_audio_transcript.done":
                    report["reply_transcript_done"] = event.transcript
                elif event.type == "response.done":
                    report["response_status"] = event.response.status
                    break
        finally:
            done.set()
            await sender
    return report


async def commit(client, speech):
    report = {"events": [], "user_transcript": "", "reply_audio_samples": 0, "status": None}
    async with client.realtime.connect(model="duplex") as conn:
        await conn.session.update(
            session={"type": "realtime", "audio": {"input": {"turn_detection": None}}}
        )
        await conn.input_audio_buffer.append(audio=pcm_b64([0] * (RATE // 2) + speech))
        await conn.input_audio_buffer.commit()
        await conn.response.create()
        async for event in conn:
            if not report["events"] or report["events"][-1] != event.type:
                report["events"].append(event.type)
            if event.type == "conversation.item.input_audio_transcription.completed":
                report["user_transcript"] += event.transcript
            elif event.type == "response.output_audio.delta":
                report["reply_audio_samples"] += len(base64.b64decode(event.delta)) // 2
            elif event.type == "response.done":
                report["status"] = event.response.status
                break
    return report


async def cancel(client, speech):
    report = {"events": [], "status": None, "reason": None, "deltas_after_done": 0}
    async with client.realtime.connect(model="duplex") as conn:
        queue = [0] * (RATE // 2) + speech
        done = asyncio.Event()

        async def stream():
            while not done.is_set():
                chunk = queue[:CHUNK]
                del queue[:CHUNK]
                chunk = chunk + [0] * (CHUNK - len(chunk))
                await conn.input_audio_buffer.append(audio=pcm_b64(chunk))
                await asyncio.sleep(CHUNK / RATE)

        sender = asyncio.create_task(stream())
        cancelled = False
        try:
            async for event in conn:
                if not report["events"] or report["events"][-1] != event.type:
                    report["events"].append(event.type)
                if event.type == "response.output_audio.delta" and not cancelled:
                    cancelled = True
                    await conn.response.cancel()
                elif event.type == "response.done":
                    report["status"] = event.response.status
                    details = event.response.status_details
                    report["reason"] = details.reason if details else None
                    break
            # Nothing more of the cancelled reply may come.
            try:
                while True:
                    event = await asyncio.wait_for(conn.recv(), 2.0)
                    if event.type == "response.output_audio.delta":
                        report["deltas_after_done"] += 1
            except asyncio.TimeoutError:
                pass
        finally:
            done.set()
            await sender
    return report


async def barge_in(client, speech):
    report = {"events": [], "statuses": [], "user_transcripts": [], "reply_audio_samples": []}
    async with client.realtime.connect(model="duplex") as conn:
        queue = [0] * (RATE // 2) + speech
        done = asyncio.Event()

        async def stream():
            while not done.is_set():
                chunk = queue[:CHUNK]
                del queue[:CHUNK]
                chunk = chunk + [0] * (CHUNK - len(chunk))
                await conn.input_audio_buffer.append(audio=pcm_b64(chunk))
                await asyncio.sleep(CHUNK / RATE)

        sender = asyncio.create_task(stream())
        audio = 0
        over = False
        try:
            async for event in conn:
                if not report["events"] or report["events"][-1] != event.type:
                    report["events"].append(event.type)
                if event.type == "response.output_audio.delta":
                    audio += len(base64.b64decode(event.delta)) // 2
                    if not over and audio >= RATE:
                        over = True
                        queue.extend(speech)
                elif event.type == "conversation.item.input_audio_transcription.completed":
                    report["user_transcripts"].append(event.transcript)
                elif event.type == "response.done":
                    details = event.response.status_details
                    reason = details.reason if details else None
                    report["statuses"].append(f"{event.response.status}:{reason}")
                    report["reply_audio_samples"].append(audio)
                    audio = 0
                    if event.response.status == "completed":
                        break
        finally:
            done.set()
            await sender
    return report


async def main():
    base, wav, scenario, key = sys.argv[1:5]
    client = AsyncOpenAI(api_key=key, websocket_base_url=base)
    speech = load_24k(wav)
    scenarios = {
        "vanish": vanish,
        "turn": turn,
        "barge_in": barge_in,
        "commit": commit,
        "cancel": cancel,
    }
    run = scenarios[scenario]
    report = await asyncio.wait_for(run(client, speech), PATIENCE_S)
    print(json.dumps(report))


asyncio.run(main())
