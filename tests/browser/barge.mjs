// The WebRTC barge-in bench's browser side (run by benches/webrtc.rs inside run_in_netns.sh):
//   node barge.mjs BIN RUNS WAV[,WAV...] [QUERY]   (the page's query, default raw=1)
// Each WAV is a question, a pause, then speech meant to land over the reply. For each run: a
// fresh browser whose microphone plays the next WAV presses Talk and waits until the reply is
// cut (or a second reply is over); the page's meter gives the stop time (microphone onset over
// the agent's voice to that voice 20 dB down). Prints JSON on stdout.
import { startServer, stopServer, eachCall, waitPage, sleep } from './lib.mjs';

const [bin, runsArg, wavsArg, queryArg] = process.argv.slice(2);
const query = queryArg || 'raw=1';
const runs = Number(runsArg);
const wavs = wavsArg.split(',');
const TIMEOUT_MS = 90000;

const settled = (s) => s.interrupted.includes(true) || s.agentTexts.length >= 2;

async function main() {
  const server = await startServer(bin);
  let results;
  try {
    results = await eachCall(server, runs, wavs, query, async (call, wav, i) => {
      // The speech may also land after the reply, or merge with the question: then there is
      // no barge-in to time, and the run records what happened instead.
      await waitPage(call, settled, TIMEOUT_MS, `run ${i + 1}`).catch((e) => console.error(String(e).slice(0, 300)));
      await sleep(1500);
      const s = await waitPage(call, () => true, 1000, 'state');
      return {
        wav: wav.split('/').pop(),
        stopsMs: s.stopsMs,
        ducks: s.ducks,
        interrupted: s.interrupted,
        agentTexts: s.agentTexts,
        userTexts: s.userTexts,
      };
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
