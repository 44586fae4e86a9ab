// How long a caller waits from pressing Talk to "listening" (run by scripts/bench_connect.sh
// inside run_in_netns.sh):  node connect.mjs BIN RUNS WAV [SERVER_ARGS...]
// Starts `duplex serve`; for each run waits until the server is idle (no session, and its spare
// engines ready unless they are turned off), opens the page in a fresh context, presses Talk,
// and reads the page's own time from the press to "listening"; hangs up. Prints JSON on stdout.
import { startServer, stopServer, launchBrowser, openCall, waitPage, waitHealth, percentile } from './lib.mjs';

const [bin, runsArg, wav, ...serverArgs] = process.argv.slice(2);
const runs = Number(runsArg);
const spares = !serverArgs.includes('--no-spare-engines');
const IDLE_TIMEOUT_MS = 60000;

async function main() {
  const server = await startServer(bin, serverArgs);
  const browser = await launchBrowser(wav);
  const times = [];
  try {
    for (let i = 0; i < runs; i++) {
      const idle = (h) => h.sessions === 0 && (!spares || h.spare_engines_ready);
      if ((await waitHealth(server.url, idle, IDLE_TIMEOUT_MS)) === null) {
        throw new Error(`run ${i + 1}: the server did not become idle`);
      }
      const call = await openCall(browser, server.url);
      const s = await waitPage(call, (p) => p.status === 'listening' && p.connectMs !== null, IDLE_TIMEOUT_MS, 'listening');
      times.push(Math.round(s.connectMs));
      await call.context.close();
    }
  } finally {
    await browser.close();
    await stopServer(server);
  }
  console.log(JSON.stringify({
    spares, runs, talkToListeningMs: times,
    p50: percentile(times, 50), p95: percentile(times, 95),
  }));
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
