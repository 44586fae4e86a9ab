// One browser test scenario against `duplex serve`; prints a JSON report on stdout for
// tests/browser_webrtc.rs to check. Usage (inside run_in_netns.sh):
//   node scenario.mjs BIN SCENARIO WAV
// SCENARIO: single (one call), concurrent (two calls at once), close-mid-reply (two calls;
// the first tab is closed as soon as its reply is heard, the second must still be answered),
// network-drop (loopback goes down under a live call, then comes back).
import { execFileSync } from 'node:child_process';
import {
  startServer, stopServer, launchBrowser, openCall, waitPage, waitHealth, health, replied,
  pageState, sleep,
} from './lib.mjs';

const [bin, scenario, wav] = process.argv.slice(2);
const REPLY_TIMEOUT_MS = Number(process.env.DUPLEX_REPLY_TIMEOUT_MS || 240000);
const FREE_TIMEOUT_MS = 20000;
// Longer than the server's 10 s silence timeout.
const DROP_MS = 15000;

async function main() {
  const server = await startServer(bin);
  const browser = await launchBrowser(wav);
  const report = { scenario, calls: [] };
  try {
    if (scenario === 'single') {
      const call = await openCall(browser, server.url);
      const s = await waitPage(call, replied, REPLY_TIMEOUT_MS, 'a reply');
      report.calls.push(s);
      report.sessionsDuring = (await health(server.url)).sessions;
      await call.context.close();
      report.freedMs = await waitHealth(server.url, (h) => h.sessions === 0, FREE_TIMEOUT_MS);
    } else if (scenario === 'concurrent') {
      const calls = [await openCall(browser, server.url), await openCall(browser, server.url)];
      const states = await Promise.all(calls.map((c) => waitPage(c, replied, REPLY_TIMEOUT_MS, 'a reply')));
      report.calls.push(...states);
      report.sessionsDuring = (await health(server.url)).sessions;
      for (const c of calls) await c.context.close();
      report.freedMs = await waitHealth(server.url, (h) => h.sessions === 0, FREE_TIMEOUT_MS);
    } else if (scenario === 'close-mid-reply') {
      const first = await openCall(browser, server.url);
      const second = await openCall(browser, server.url);
      // Close the first tab while its reply is being heard.
      const cut = await waitPage(first, (s) => s.remoteLoudSamples > 0, REPLY_TIMEOUT_MS, 'the first reply to start');
      report.closedState = cut;
      await first.context.close();
      report.firstFreedMs = await waitHealth(server.url, (h) => h.sessions <= 1, FREE_TIMEOUT_MS);
      const s = await waitPage(second, replied, REPLY_TIMEOUT_MS, 'the second reply');
      report.calls.push(s);
      report.sessionsDuring = (await health(server.url)).sessions;
      await second.context.close();
      report.freedMs = await waitHealth(server.url, (h) => h.sessions === 0, FREE_TIMEOUT_MS);
    } else if (scenario === 'network-drop') {
      // The network goes away under a live call: loopback down for longer than the server's
      // silence timeout, then back up; the session must have ended on its own.
      if (process.env.DUPLEX_IN_NETNS !== '1') {
        throw new Error('network-drop takes loopback down, so it needs a private network namespace: run as root (or with user namespaces) where `unshare -n` is permitted');
      }
      const call = await openCall(browser, server.url);
      await waitPage(call, (s) => s.status === 'listening', REPLY_TIMEOUT_MS, 'the call to start');
      await sleep(2000);
      report.sessionsDuring = (await health(server.url)).sessions;
      execFileSync('ip', ['link', 'set', 'lo', 'down']);
      await sleep(DROP_MS);
      execFileSync('ip', ['link', 'set', 'lo', 'up']);
      report.freedMs = await waitHealth(server.url, (h) => h.sessions === 0, FREE_TIMEOUT_MS);
      report.pageStatus = (await pageState(call)).status;
      await call.context.close();
    } else {
      throw new Error(`unknown scenario ${scenario}`);
    }
    report.healthAfter = await health(server.url);
  } finally {
    await browser.close();
    report.serverExit = await stopServer(server);
    report.serverLog = server.log.join('').split('\n').filter((l) => /session|offer|error|panick/i.test(l));
  }
  console.log(JSON.stringify(report));
}

main().catch((e) => {
  console.error(e.stack || String(e));
  process.exit(1);
});
