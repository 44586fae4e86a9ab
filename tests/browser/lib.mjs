// Shared helpers for the browser tests and the WebRTC bench: start `duplex serve`, launch
// headless Chromium with a WAV file as its microphone, open the page and press Talk, read what
// the page shows. Meant to run inside a loopback-only network namespace (see run_in_netns.sh).
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium } from 'playwright-core';

export const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium';

export function sleep(ms) {
  return new Promise((r) => setTimeout(r, ms));
}

// Starts the server on a free port of `host` (loopback by default); resolves to
// { url, proc, log }.
export function startServer(bin, extraArgs = [], host = '127.0.0.1') {
  return new Promise((resolve, reject) => {
    // The server's memory between calls goes to a directory of its own, removed when it exits
    // (never the user's ~/.local/share/duplex), unless DUPLEX_DATA_DIR names one.
    const dataDir = mkdtempSync(join(tmpdir(), 'duplex-data-'));
    const proc = spawn(bin, ['serve', '--bind', `${host}:0`, ...extraArgs], {
      env: {
        ...process.env,
        DUPLEX_LOG: process.env.DUPLEX_LOG || 'info',
        DUPLEX_DATA_DIR: process.env.DUPLEX_DATA_DIR || dataDir,
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    proc.on('exit', () => rmSync(dataDir, { recursive: true, force: true }));
    const log = [];
    let done = false;
    proc.stderr.on('data', (d) => log.push(d.toString()));
    proc.stdout.on('data', (d) => {
      const text = d.toString();
      log.push(text);
      const m = text.match(/listening on (https?:\/\/\S+)/);
      if (m && !done) {
        done = true;
        resolve({ url: m[1], proc, log });
      }
    });
    proc.on('exit', (code) => {
      if (!done) {
        done = true;
        reject(new Error(`duplex serve exited (${code}) before listening:\n${log.join('')}`));
      }
    });
  });
}

// How long a stopped server may take to exit before it is killed: generous, because a stop on
// a starved machine may take a while (it ends its calls and joins their engine threads); this
// bounds a hang, it does not time the stop.
const STOP_TIMEOUT_MS = 60000;

// How a server process ended: its exit code (a number), or "signal SIGSEGV" when a signal
// ended it (node gives a null code then, which a test would misread).
function exitOf(code, signal) {
  return signal ? `signal ${signal}` : code;
}

// Stops the server with `signal` (SIGINT, as Ctrl-C; or SIGTERM, as a service manager) and
// resolves to how it ended (see exitOf), or to "timeout after SIGINT" when it had to be
// killed.
export async function stopServer(server, signal = 'SIGINT') {
  const { proc } = server;
  if (proc.exitCode !== null || proc.signalCode !== null) {
    return exitOf(proc.exitCode, proc.signalCode);
  }
  const exited = new Promise((r) => proc.once('exit', (code, sig) => r(exitOf(code, sig))));
  proc.kill(signal);
  const result = await Promise.race([exited, sleep(STOP_TIMEOUT_MS).then(() => 'timeout')]);
  if (result === 'timeout') {
    proc.kill('SIGKILL');
    await exited;
    return `timeout after ${signal}`;
  }
  return result;
}

export async function health(url) {
  const res = await fetch(new URL('/health', url));
  if (!res.ok) throw new Error(`/health answered ${res.status}`);
  return res.json();
}

// Polls /health until `check(json)` holds; returns the milliseconds it took, or null.
export async function waitHealth(url, check, timeoutMs) {
  const t0 = Date.now();
  while (Date.now() - t0 < timeoutMs) {
    if (check(await health(url))) return Date.now() - t0;
    await sleep(100);
  }
  return null;
}

export async function launchBrowser(wav, extraArgs = []) {
  return chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      '--use-fake-ui-for-media-stream',
      '--use-fake-device-for-media-stream',
      `--use-file-for-fake-audio-capture=${wav}%noloop`,
      '--autoplay-policy=no-user-gesture-required',
      '--allow-loopback-in-peer-connection',
      ...extraArgs,
    ],
  });
}

// Opens the page (with the query `query`) in a fresh context and presses Talk; `prepare(context)`
// runs first (to route the context's requests, say).
export async function openCall(browser, url, query = 'raw=1', prepare = null) {
  const context = await browser.newContext();
  if (prepare) await prepare(context);
  const page = await context.newPage();
  const console = [];
  page.on('console', (m) => console.push(m.text()));
  page.on('pageerror', (e) => console.push('pageerror: ' + e.message));
  await page.goto(new URL(`/?${query}`, url).toString());
  await page.click('#talk');
  return { context, page, console };
}

export async function pageState(call) {
  return call.page.evaluate(() => ({
    ...window.duplex,
    transcript: Array.from(document.querySelectorAll('#transcript p')).map((p) => ({
      who: p.classList.contains('user') ? 'user' : 'agent',
      text: p.textContent,
      cut: p.classList.contains('cut'),
    })),
  }));
}

// Waits until the page state satisfies `check`; throws with the last state on timeout or error.
export async function waitPage(call, check, timeoutMs, what) {
  const t0 = Date.now();
  let s;
  while (Date.now() - t0 < timeoutMs) {
    s = await pageState(call);
    if (s.error) throw new Error(`page error while waiting for ${what}: ${s.error}`);
    if (check(s)) return s;
    await sleep(100);
  }
  throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}; page: ${JSON.stringify(s)}; console: ${call.console.join(' | ')}`);
}

// For each of `runs` calls: a fresh browser whose microphone plays the next of `wavs` opens the
// page with `query` and presses Talk; `onCall(call, wav)` returns the run's result. After each
// call the server must free its session. Returns the results.
export async function eachCall(server, runs, wavs, query, onCall) {
  const results = [];
  for (let i = 0; i < runs; i++) {
    const wav = wavs[i % wavs.length];
    const browser = await launchBrowser(wav);
    try {
      const call = await openCall(browser, server.url, query);
      results.push(await onCall(call, wav, i));
      await call.context.close();
    } finally {
      await browser.close();
    }
    if ((await waitHealth(server.url, (h) => h.sessions === 0, 20000)) === null) {
      throw new Error(`run ${i + 1}: the session was not freed`);
    }
    console.error(`run ${i + 1}/${runs}: ${JSON.stringify(results.at(-1)).slice(0, 200)}`);
  }
  return results;
}

// A finished reply: its text arrived and its voice was heard (loud samples) with a latency.
export const replied = (s) => s.agentTexts.length >= 1 && s.remoteLoudSamples > 0 && s.latenciesMs.length >= 1;

export function percentile(values, p) {
  const v = [...values].sort((a, b) => a - b);
  if (!v.length) return null;
  const i = Math.min(v.length - 1, Math.max(0, Math.ceil((p / 100) * v.length) - 1));
  return v[i];
}
