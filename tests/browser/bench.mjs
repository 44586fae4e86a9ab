// The WebRTC latency bench's browser side (run by benches/webrtc.rs inside run_in_netns.sh):
//   node bench.mjs BIN RUNS WAV[,WAV...] [TONE_AFTER_MS]
// Starts `duplex serve` (with TONE_AFTER_MS: the measurement tone instead of the agent), then
// for each run opens a fresh browser whose microphone plays the next WAV, presses Talk, waits
// for the reply and records the page's first voice-to-voice latency. Prints JSON on stdout.
import {
  startServer, stopServer, launchBrowser, openCall, waitPage, waitHealth, replied,
} from './lib.mjs';

const [bin, runsArg, wavsArg, toneArg] = process.argv.slice(2);
const runs = Number(runsArg);
const wavs = wavsArg.split(',');
const tone = toneArg !== undefined;
const REPLY_TIMEOUT_MS = 240000;

const heard = (s) => (tone ? s.latenciesMs.length >= 1 : replied(s));

async function main() {
  const server = await startServer(bin, tone ? ['--measure-tone-after-ms', toneArg] : []);
  const results = [];
  try {
    for (let i = 0; i < runs; i++) {
      const wav = wavs[i % wavs.length];
      const browser = await launchBrowser(wav);
      try {
        const call = await openCall(browser, server.url);
        const s = await waitPage(call, heard, REPLY_TIMEOUT_MS, `run ${i + 1} reply`);
        results.push({ wav: wav.split('/').pop(), latencyMs: s.latenciesMs[0], userTexts: s.userTexts });
        await call.context.close();
      } finally {
        await browser.close();
      }
      if ((await waitHealth(server.url, (h) => h.sessions === 0, 20000)) === null) {
        throw new Error(`run ${i + 1}: the session was not freed`);
      }
      console.error(`run ${i + 1}/${runs}: ${results.at(-1).latencyMs.toFixed(1)} ms`);
    }
  } finally {
    await stopServer(server);
  }
  console.log(JSON.stringify({ runs: results }));
}

main().catch((e) => {
  console.error(e.stack || String(e));
  process.exit(1);
});
