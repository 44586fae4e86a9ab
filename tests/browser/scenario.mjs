// One browser test scenario against `duplex serve`; prints a JSON report on stdout for
// tests/browser_webrtc.rs to check. Usage (inside run_in_netns.sh):
//   node scenario.mjs BIN SCENARIO WAV
// SCENARIO: single (one call), concurrent (two calls at once), close-mid-reply (two calls;
// the first tab is closed as soon as its reply is heard, the second must still be answered),
// network-drop (loopback goes down under a live call, then comes back), cross-origin (a page
// from another origin tries to start calls; then the real page starts one), https-lan (the
// page over HTTPS with a self-signed certificate, on a LAN address that is not loopback),
// brain-restart (the session's LLM worker is killed after the first reply; the WAV asks twice),
// lossy (one call as it is, then one with 5 % of the browser's packets lost and jitter),
// rtc-ports (two calls at once on a two-port --rtc-ports range, then a third once they end),
// flooded (another address floods offers it never connects while the real page calls and is
// answered; a second page is refused, the server being full, and shows why), max-length (a call reaches --max-call-seconds: the agent says goodbye and the page
// shows why).
import { execFileSync } from 'node:child_process';
import http from 'node:http';
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import {
  startServer, stopServer, launchBrowser, openCall, waitPage, waitHealth, health, replied,
  pageState, sleep,
} from './lib.mjs';
import { relayCallThrough } from './lossy_relay.mjs';

const [bin, scenario, wav] = process.argv.slice(2);
const REPLY_TIMEOUT_MS = Number(process.env.DUPLEX_REPLY_TIMEOUT_MS || 240000);
const FREE_TIMEOUT_MS = 20000;
// Longer than the server's 10 s silence timeout.
const DROP_MS = 15000;

// The media port range of the rtc-ports scenario.
const RTC_PORTS = '50000-50001';

// The LAN address of the https-lan scenario, on a veth interface of the private namespace.
const LAN_IP = '10.7.0.1';

// Two calls at once, each until its reply; then both tabs close and the sessions must end.
async function twoCallsAnswered(browser, server, report) {
  const calls = [await openCall(browser, server.url), await openCall(browser, server.url)];
  const states = await Promise.all(calls.map((c) => waitPage(c, replied, REPLY_TIMEOUT_MS, 'a reply')));
  report.calls.push(...states);
  report.sessionsDuring = (await health(server.url)).sessions;
  for (const c of calls) await c.context.close();
  report.freedMs = await waitHealth(server.url, (h) => h.sessions === 0, FREE_TIMEOUT_MS);
}

async function main() {
  const lan = scenario === 'https-lan';
  let tlsDir = null;
  if (lan) {
    if (process.env.DUPLEX_IN_NETNS !== '1') {
      throw new Error('https-lan adds a network interface, so it needs a private network namespace: run as root (or with user namespaces) where `unshare -n` is permitted');
    }
    // A network interface that is not loopback (a veth pair; its other end only needs to be up).
    execFileSync('ip', ['link', 'add', 'lan0', 'type', 'veth', 'peer', 'name', 'lan1']);
    execFileSync('ip', ['addr', 'add', `${LAN_IP}/24`, 'dev', 'lan0']);
    execFileSync('ip', ['link', 'set', 'lan1', 'up']);
    execFileSync('ip', ['link', 'set', 'lan0', 'up']);
    tlsDir = fs.mkdtempSync(path.join(os.tmpdir(), 'duplex-tls-'));
    // This process's own requests (/health) accept the self-signed certificate; the browser
    // is told to trust its key below, as a user accepts it after checking the fingerprint.
    process.env.NODE_TLS_REJECT_UNAUTHORIZED = '0';
  }
  const serverArgs = lan
    ? ['--tls-self-signed', '--tls-dir', tlsDir]
    : scenario === 'rtc-ports' ? ['--rtc-ports', RTC_PORTS, '--max-sessions', '2']
      : scenario === 'max-length' ? ['--max-call-seconds', String(MAX_CALL_SECONDS)]
        : scenario === 'flooded' ? ['--max-sessions', '1'] : [];
  const server = await startServer(bin, serverArgs, lan ? LAN_IP : '127.0.0.1');
  const browserArgs = lan ? [`--ignore-certificate-errors-spki-list=${spkiHash(path.join(tlsDir, 'cert.pem'))}`] : [];
  const browser = await launchBrowser(wav, browserArgs);
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
      await twoCallsAnswered(browser, server, report);
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
    } else if (scenario === 'rtc-ports') {
      await twoCallsAnswered(browser, server, report);
      // The ports came back: a third call gets one.
      const third = await openCall(browser, server.url);
      await waitPage(third, (s) => s.status === 'listening', REPLY_TIMEOUT_MS, 'the third call to start');
      await third.context.close();
      await waitHealth(server.url, (h) => h.sessions === 0, FREE_TIMEOUT_MS);
      report.mediaPorts = [...server.log.join('').matchAll(/media on UDP port (\d+)/g)].map((m) => Number(m[1]));
    } else if (scenario === 'https-lan') {
      const call = await openCall(browser, server.url);
      const s = await waitPage(call, replied, REPLY_TIMEOUT_MS, 'a reply');
      report.url = server.url;
      report.secureContext = await call.page.evaluate(() => window.isSecureContext);
      report.fingerprint = (server.log.join('').match(/SHA-256 fingerprint ([0-9A-F:]+)/) || [])[1] || null;
      report.calls.push(s);
      report.sessionsDuring = (await health(server.url)).sessions;
      await call.context.close();
      report.freedMs = await waitHealth(server.url, (h) => h.sessions === 0, FREE_TIMEOUT_MS);
    } else if (scenario === 'cross-origin') {
      Object.assign(report, await crossOrigin(browser, server));
      // The real page still gets its call at once.
      const t0 = Date.now();
      const call = await openCall(browser, server.url);
      await waitPage(call, (s) => s.status === 'listening', REPLY_TIMEOUT_MS, 'the real call to start');
      report.realCallListeningMs = Date.now() - t0;
      report.sessionsDuring = (await health(server.url)).sessions;
      await call.context.close();
      report.freedMs = await waitHealth(server.url, (h) => h.sessions === 0, FREE_TIMEOUT_MS);
    } else if (scenario === 'flooded') {
      Object.assign(report, await flooded(browser, server));
    } else if (scenario === 'max-length') {
      // The microphone is silent: any voice the page hears is the goodbye.
      const call = await openCall(browser, server.url);
      await waitPage(call, (s) => s.status === 'listening', REPLY_TIMEOUT_MS, 'the call to start');
      const told = await waitPage(call, (s) => s.ended !== null, REPLY_TIMEOUT_MS, 'the call to end');
      report.loudWhenTold = told.remoteLoudSamples;
      report.freedMs = await waitHealth(server.url, (h) => h.sessions === 0, REPLY_TIMEOUT_MS);
      // The page hangs up once the server has closed the call (after the goodbye).
      const s = await waitPage(call, (p) => p.transcript.some((l) => l.text.startsWith('The call ends')) && !p.live,
        FREE_TIMEOUT_MS, 'the page to hang up');
      report.calls.push(s);
      report.metrics = await (await fetch(new URL('/metrics', server.url))).text();
      await call.context.close();
    } else if (scenario === 'unconnected-offer') {
      // The served page sends an offer and never connects: the server answers, but takes no
      // call slot and no engines for it (the spare stays ready, no LLM worker starts); at its
      // connect timeout (5 s) the offer is dropped and its pending place freed.
      await waitHealth(server.url, (h) => h.spare_engines_ready, FREE_TIMEOUT_MS);
      report.workersBefore = llmWorkers(server.proc.pid).length;
      const context = await browser.newContext();
      const page = await context.newPage();
      await page.goto(server.url);
      report.answerStatus = await page.evaluate(async () => {
        const pc = new RTCPeerConnection();
        pc.addTransceiver('audio', { direction: 'sendrecv' });
        pc.createDataChannel('events');
        await pc.setLocalDescription(await pc.createOffer());
        const res = await fetch('/offer', { method: 'POST', body: pc.localDescription.sdp, headers: { 'Content-Type': 'application/sdp' } });
        await res.text();
        window.keep = pc; // never given the answer: it never connects
        return res.status;
      });
      await sleep(3000);
      report.healthWhileUnconnected = await health(server.url);
      report.workersWhileUnconnected = llmWorkers(server.proc.pid).length;
      await context.close();
      report.freedMs = await waitHealth(server.url, (h) => h.sessions === 0 && h.pending === 0, 45000);
    } else if (scenario === 'brain-restart') {
      // The microphone asks twice with a long pause between; after the first reply the
      // session's LLM worker is killed, and the second question must still be answered.
      const call = await openCall(browser, server.url);
      await waitPage(call, replied, REPLY_TIMEOUT_MS, 'the first reply');
      report.killedWorkers = killWorkers(server.proc.pid);
      const t0 = Date.now();
      const s = await waitPage(call, (p) => p.agentTexts.length >= 2 && p.restarts >= 1,
        REPLY_TIMEOUT_MS, 'a reply after the brain restarted');
      report.secondReplyAfterKillMs = Date.now() - t0;
      report.calls.push(s);
      report.metrics = await (await fetch(new URL('/metrics', server.url))).text();
      await call.context.close();
      report.freedMs = await waitHealth(server.url, (h) => h.sessions === 0, FREE_TIMEOUT_MS);
    } else if (scenario === 'lossy') {
      // One call over the loopback as it is, then one from a fresh browser (its microphone
      // file starts over) whose packets pass a relay that loses and delays them (see
      // lossy_relay.mjs); the server's counters after each.
      report.lossless = await callAndCount(browser, server);
      const lossyBrowser = await launchBrowser(wav);
      const holder = {};
      try {
        const throughRelay = (context) => relayCallThrough(context, LOSSY_NETWORK, holder);
        report.lossy = await callAndCount(lossyBrowser, server, throughRelay);
      } finally {
        await lossyBrowser.close();
        holder.relay?.close();
      }
      report.relay = holder.relay?.stats ?? null;
      report.calls.push(report.lossless.call, report.lossy.call);
      report.freedMs = report.lossy.freedMs;
    } else {
      throw new Error(`unknown scenario ${scenario}`);
    }
    report.healthAfter = await health(server.url);
  } finally {
    await browser.close();
    report.serverExit = await stopServer(server);
    report.serverLog = server.log.join('').split('\n').filter((l) => /session|offer|error|panick/i.test(l));
    // On stderr, which the test shows when it fails (a failed scenario prints no report).
    console.error(`server ended: ${report.serverExit}; its log's end:\n${server.log.join('').split('\n').slice(-60).join('\n')}`);
  }
  console.log(JSON.stringify(report));
}

// The call length of the max-length scenario.
const MAX_CALL_SECONDS = 5;

// The flooding client's address: another loopback address (the page's is 127.0.0.1), so that
// the server tells them apart as it would two machines.
const FLOOD_FROM = '127.0.0.2';

// POSTs `sdp` as an offer from FLOOD_FROM with the page's own Origin (a program can send any);
// resolves to the status.
function floodOffer(url, sdp) {
  const target = new URL('/offer', url);
  return new Promise((resolve) => {
    const req = http.request(target, {
      method: 'POST',
      localAddress: FLOOD_FROM,
      headers: { 'Content-Type': 'application/sdp', Origin: target.origin },
    }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode));
    });
    req.on('error', () => resolve(0)); // closed by the server: counted as 0
    req.end(sdp);
  });
}

// Another address floods the server with real offers (made by a browser page, sent again and
// again, never connected) from four loops at once; while it holds its share of the pending
// places, the real page calls and must be answered. Then the flood stops.
async function flooded(browser, server) {
  const context = await browser.newContext();
  const page = await context.newPage();
  await page.goto(server.url);
  const sdp = await page.evaluate(async () => {
    const pc = new RTCPeerConnection();
    pc.addTransceiver('audio', { direction: 'sendrecv' });
    pc.createDataChannel('events');
    await pc.setLocalDescription(await pc.createOffer());
    await new Promise((r) => {
      if (pc.iceGatheringState === 'complete') r();
      pc.onicegatheringstatechange = () => pc.iceGatheringState === 'complete' && r();
      setTimeout(r, 3000);
    });
    return pc.localDescription.sdp;
  });
  await context.close();
  const statuses = [];
  let flooding = true;
  const loops = Array.from({ length: 4 }, async () => {
    while (flooding) {
      statuses.push(await floodOffer(server.url, sdp));
      await sleep(10);
    }
  });
  const out = {};
  try {
    out.floodHeldMs = await waitHealth(server.url, (h) => h.pending >= 3, FREE_TIMEOUT_MS);
    const t0 = Date.now();
    const call = await openCall(browser, server.url);
    const s = await waitPage(call, replied, REPLY_TIMEOUT_MS, 'a reply while flooded');
    out.realCallRepliedMs = Date.now() - t0;
    out.calls = [s];
    out.healthWhileFlooded = await health(server.url);
    // The one call slot is taken (and this address's share): a second page is refused and
    // shows the server's reason.
    const second = await openCall(browser, server.url);
    const t1 = Date.now();
    let refused = await pageState(second);
    while (!refused.error && Date.now() - t1 < FREE_TIMEOUT_MS) {
      await sleep(100);
      refused = await pageState(second);
    }
    out.refusedPage = { error: refused.error, status: refused.status, transcript: refused.transcript };
    await second.context.close();
    await call.context.close();
  } finally {
    flooding = false;
    await Promise.all(loops);
  }
  out.floodStatuses = statuses.reduce((n, st) => ({ ...n, [st]: (n[st] || 0) + 1 }), {});
  out.freedMs = await waitHealth(server.url, (h) => h.sessions === 0 && h.pending === 0, 45000);
  return out;
}

// The pids of the LLM worker processes of the server `pid`.
function llmWorkers(pid) {
  try {
    return execFileSync('pgrep', ['-P', String(pid), '-x', 'duplex-llm']).toString().trim().split(/\s+/).map(Number);
  } catch {
    return []; // pgrep exits 1 when there is none
  }
}

// Kills (SIGKILL) the LLM worker processes of the server `pid`; returns their pids.
function killWorkers(pid) {
  const pids = llmWorkers(pid);
  for (const p of pids) process.kill(p, 'SIGKILL');
  return pids;
}

// The lossy call's network from the browser to the server: 5 % of the RTP packets lost, each
// packet delayed 30 ms with a standard deviation of 10 ms (so some overtake others).
const LOSSY_NETWORK = { lossPercent: 5, delayMs: 30, jitterMs: 10, seed: 1 };

// One call until its reply is heard; then, once its session has ended, the server's microphone
// counters (from /metrics: totals over the server's life so far).
async function callAndCount(browser, server, prepare = null) {
  const call = await openCall(browser, server.url, 'raw=1', prepare);
  const state = await waitPage(call, replied, REPLY_TIMEOUT_MS, 'a reply');
  await call.context.close();
  const freedMs = await waitHealth(server.url, (h) => h.sessions === 0, FREE_TIMEOUT_MS);
  const text = await (await fetch(new URL('/metrics', server.url))).text();
  const counters = {};
  for (const m of text.matchAll(/^duplex_(rtp_\w+|mic_frames\w*)(\{how="(\w+)"\})? (\d+)$/gm)) {
    counters[m[1] + (m[3] ? `_${m[3]}` : '')] = Number(m[4]);
  }
  return { call: state, freedMs, counters };
}

// base64 of the SHA-256 of a certificate's public key (what Chromium's
// --ignore-certificate-errors-spki-list takes).
function spkiHash(certFile) {
  const cert = new crypto.X509Certificate(fs.readFileSync(certFile));
  const spki = cert.publicKey.export({ type: 'spki', format: 'der' });
  return crypto.createHash('sha256').update(spki).digest('base64');
}

// A page on another origin (another port of the same host) makes a real WebRTC offer and sends
// it to duplex's /offer as a CORS "simple" request (text/plain, no preflight) and as
// application/sdp (which needs a preflight): neither may start a session.
async function crossOrigin(browser, server) {
  const foreign = http.createServer((req, res) => {
    res.writeHead(200, { 'Content-Type': 'text/html' });
    res.end('<!doctype html><title>another site</title><p>another site</p>');
  });
  await new Promise((resolve) => foreign.listen(0, '127.0.0.1', resolve));
  const foreignUrl = `http://127.0.0.1:${foreign.address().port}/`;
  const context = await browser.newContext();
  try {
    const page = await context.newPage();
    await page.goto(foreignUrl);
    const attempts = await page.evaluate(async (target) => {
      const offer = async () => {
        const pc = new RTCPeerConnection();
        pc.addTransceiver('audio', { direction: 'sendrecv' });
        pc.createDataChannel('events');
        await pc.setLocalDescription(await pc.createOffer());
        await new Promise((r) => {
          if (pc.iceGatheringState === 'complete') r();
          pc.onicegatheringstatechange = () => pc.iceGatheringState === 'complete' && r();
          setTimeout(r, 3000);
        });
        const sdp = pc.localDescription.sdp;
        pc.close();
        return sdp;
      };
      const out = [];
      for (let i = 0; i < 4; i++) {
        const sdp = await offer();
        try {
          await fetch(target + '/offer', { method: 'POST', mode: 'no-cors', body: sdp, headers: { 'Content-Type': 'text/plain' } });
          out.push({ kind: 'simple', sent: true });
        } catch (e) {
          out.push({ kind: 'simple', sent: false, error: String(e) });
        }
        try {
          const res = await fetch(target + '/offer', { method: 'POST', body: sdp, headers: { 'Content-Type': 'application/sdp' } });
          out.push({ kind: 'sdp', sent: true, status: res.status });
        } catch (e) {
          out.push({ kind: 'sdp', sent: false, error: String(e) });
        }
      }
      return out;
    }, server.url.replace(/\/$/, ''));
    return {
      foreignOrigin: foreignUrl,
      foreignAttempts: attempts,
      sessionsAfterForeign: (await health(server.url)).sessions,
    };
  } finally {
    await context.close();
    foreign.close();
  }
}

main().catch((e) => {
  console.error(e.stack || String(e));
  process.exit(1);
});
