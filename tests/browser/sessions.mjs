// Several conversations at once against one `duplex serve` (run by scripts/bench_sessions.sh
// inside run_in_netns.sh):  node sessions.mjs BIN WAV TURNS N STAGGER_MS
// First one call alone, then N calls at once (call i presses Talk i * STAGGER_MS after the
// first); every call's microphone plays WAV, which asks TURNS questions with pauses between.
// Records each call's voice-to-voice latencies (the page's meter), its time from Talk to
// listening, and the server's dropped microphone frames. Calls beyond the server's admission
// limit (its default, one per core, unless SERVER_ARGS set --max-sessions) must be refused with
// the page's message; they are listed, not timed. Prints JSON on stdout.
import { startServer, stopServer, launchBrowser, openCall, waitPage, waitHealth, percentile, sleep } from './lib.mjs';

const [bin, wav, turnsArg, nArg, staggerArg, ...serverArgs] = process.argv.slice(2);
const turns = Number(turnsArg);
const n = Number(nArg);
const stagger = Number(staggerArg);
const TIMEOUT_MS = 300000;

async function droppedFrames(url) {
  const text = await (await fetch(new URL('/metrics', url))).text();
  const m = text.match(/^duplex_mic_frames_dropped_total (\d+)/m);
  return m ? Number(m[1]) : null;
}

// Silences inside replies counted so far (`duplex_reply_stall_seconds`): all, and over 200 ms.
async function stalls(url) {
  const text = await (await fetch(new URL('/metrics', url))).text();
  const value = (re) => Number((text.match(re) || [0, 0])[1]);
  const count = value(/^duplex_reply_stall_seconds_count (\d+)/m);
  const upTo200 = value(/^duplex_reply_stall_seconds_bucket\{le="0.2"\} (\d+)/m);
  return { count, over200ms: count - upTo200 };
}

// Runs `count` calls staggered; resolves to each call's page state once it has `turns` replies.
async function calls(server, count) {
  const idle = (h) => h.sessions === 0 && h.spare_engines_ready;
  if ((await waitHealth(server.url, idle, 60000)) === null) throw new Error('the server did not become idle');
  const browsers = await Promise.all(Array.from({ length: count }, () => launchBrowser(wav)));
  try {
    const runs = browsers.map(async (browser, i) => {
      await sleep(i * stagger);
      const call = await openCall(browser, server.url);
      try {
        const s = await waitPage(call, (p) => p.latenciesMs.length >= turns && p.agentTexts.length >= turns,
          TIMEOUT_MS, `call ${i + 1}: ${turns} replies`);
        return { latenciesMs: s.latenciesMs.map(Math.round), connectMs: Math.round(s.connectMs), userTexts: s.userTexts };
      } catch (e) {
        // Refused by admission: the page says so (its status line), the call is not counted.
        const status = await call.page.evaluate(() => window.duplex.status);
        if (!/refused/.test(status)) throw e;
        return { refused: status };
      } finally {
        await call.context.close();
      }
    });
    return await Promise.all(runs);
  } finally {
    await Promise.all(browsers.map((b) => b.close()));
  }
}

function summary(results) {
  const admitted = results.filter((r) => !r.refused);
  const all = admitted.flatMap((r) => r.latenciesMs);
  return {
    p50: percentile(all, 50), p95: percentile(all, 95), calls: admitted,
    refused: results.filter((r) => r.refused).map((r) => r.refused),
  };
}

async function main() {
  // Every call comes from this one address: let it have them all (the bench measures the
  // machine and its own admission limit, not the per-client cap).
  const server = await startServer(bin, ['--max-sessions-per-client', String(n), ...serverArgs]);
  const report = { turns, sessions: n, staggerMs: stagger };
  try {
    const before = await droppedFrames(server.url);
    const idle = (h) => h.sessions === 0;
    report.single = summary(await calls(server, 1));
    await waitHealth(server.url, idle, 60000);
    const stallsSingle = await stalls(server.url);
    report.single.replyStalls = stallsSingle;
    report.concurrent = summary(await calls(server, n));
    await waitHealth(server.url, idle, 60000);
    const stallsAll = await stalls(server.url);
    report.concurrent.replyStalls = {
      count: stallsAll.count - stallsSingle.count,
      over200ms: stallsAll.over200ms - stallsSingle.over200ms,
    };
    report.admitted = report.concurrent.calls.length;
    report.perCallP95 = report.concurrent.calls.map((c) => percentile(c.latenciesMs, 95));
    report.p95Ratio = Math.max(...report.perCallP95) / report.single.p95;
    report.micFramesDropped = (await droppedFrames(server.url)) - before;
  } finally {
    await stopServer(server);
  }
  console.log(JSON.stringify(report));
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
