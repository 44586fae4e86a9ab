// The WebRTC latency bench's browser side (run by benches/webrtc.rs inside run_in_netns.sh):
//   node bench.mjs BIN RUNS WAV[,WAV...] [TONE_AFTER_MS]
// Starts `duplex serve` (with TONE_AFTER_MS: the measurement tone instead of the agent), then
// for each run opens a fresh browser whose microphone plays the next WAV, presses Talk, waits
// for the reply and records the page's first voice-to-voice latency. Prints JSON on stdout.
import { startServer, stopServer, eachCall, waitPage, replied } from './lib.mjs';

const [bin, runsArg, wavsArg, toneArg] = process.argv.slice(2);
const runs = Number(runsArg);
const wavs = wavsArg.split(',');
const tone = toneArg !== undefined;
const REPLY_TIMEOUT_MS = 240000;

const heard = (s) => (tone ? s.latenciesMs.length >= 1 : replied(s));

async function main() {
  const server = await startServer(bin, tone ? ['--measure-tone-after-ms', toneArg] : []);
  let results;
  try {
    results = await eachCall(server, runs, wavs, 'raw=1', async (call, wav, i) => {
      const s = await waitPage(call, heard, REPLY_TIMEOUT_MS, `run ${i + 1} reply`);
      return { wav: wav.split('/').pop(), latencyMs: s.latenciesMs[0], userTexts: s.userTexts };
    });
  } finally {
    await stopServer(server);
  }
  console.log(JSON.stringify({ runs: results }));
}

main().catch((e) => {
  console.error(e.stack || String(e));
  process.exit(1);
});
