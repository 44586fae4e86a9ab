// A soak of back-to-back calls against `duplex serve` (run by scripts/soak_serve.sh inside
// run_in_netns.sh, not by CI):  node soak.mjs BIN SECONDS WAV[,WAV...]
// Measures the resident memory of the server and its child processes (LLM workers) at rest
// before the calls, after each call, and 15 s after the last; checks that /metrics counted every
// call. Prints JSON on stdout.
import fs from 'node:fs';
import { startServer, stopServer, eachCall, waitPage, waitHealth, replied, sleep } from './lib.mjs';

const [bin, secondsArg, wavsArg] = process.argv.slice(2);
const seconds = Number(secondsArg);
const wavs = wavsArg.split(',');
const REST_MS = 15000;

// Resident memory (MiB) of `pid` and all its descendants.
function treeRssMb(pid) {
  let kb = 0;
  const visit = (p) => {
    try {
      const status = fs.readFileSync(`/proc/${p}/status`, 'utf8');
      kb += Number((status.match(/VmRSS:\s+(\d+)/) || [0, 0])[1]);
      for (const task of fs.readdirSync(`/proc/${p}/task`)) {
        const children = fs.readFileSync(`/proc/${p}/task/${task}/children`, 'utf8').trim();
        for (const c of children ? children.split(/\s+/) : []) visit(c);
      }
    } catch {
      // the process ended while being read
    }
  };
  visit(pid);
  return kb / 1024;
}

/** Resident memory of the server process alone, MiB: in all, anonymous (heap, stacks) and
 * file-backed (code and models mapped from files, which the kernel may drop at will). */
function ownRss(pid) {
  try {
    const status = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
    const mb = (key) => Number((status.match(new RegExp(`${key}:\\s+(\\d+)`)) || [0, 0])[1]) / 1024;
    return { total: mb('VmRSS'), anon: mb('RssAnon'), file: mb('RssFile') };
  } catch {
    return { total: 0, anon: 0, file: 0 };
  }
}

/** With SOAK_SMAPS_DIR set, keeps the server's memory map (`/proc/PID/smaps`) as `NAME.smaps`
 * there, to see which mappings grew. */
function dumpSmaps(pid, name) {
  const dir = process.env.SOAK_SMAPS_DIR;
  if (dir) fs.writeFileSync(`${dir}/${name}.smaps`, fs.readFileSync(`/proc/${pid}/smaps`, "utf8"));
}

async function metric(url, name) {
  const text = await (await fetch(new URL('/metrics', url))).text();
  const line = text.split('\n').find((l) => l.startsWith(name + ' '));
  return line ? Number(line.split(' ')[1]) : null;
}

async function main() {
  // SERVER_ARGS: more `duplex serve` flags (space-separated), e.g. --no-backchannels.
  const server = await startServer(bin, (process.env.SERVER_ARGS || '').split(' ').filter(Boolean));
  const report = { seconds, calls: [] };
  try {
    // At rest: the spare engines (the next call's) loaded, nothing else going on.
    const atRest = (h) => h.sessions === 0 && h.spare_engines_ready;
    await waitHealth(server.url, atRest, 60000);
    await sleep(5000);
    report.baselineMb = treeRssMb(server.proc.pid);
    report.baselineServer = ownRss(server.proc.pid);
    dumpSmaps(server.proc.pid, 'before');
    report.baselineHeapMb = (await metric(server.url, 'duplex_heap_in_use_bytes')) / 2 ** 20;
    const t0 = Date.now();
    let i = 0;
    while ((Date.now() - t0) / 1000 < seconds) {
      const [result] = await eachCall(server, 1, [wavs[i % wavs.length]], 'raw=1', async (call) => {
        const s = await waitPage(call, replied, 240000, `call ${i + 1} reply`);
        return { latencyMs: s.latenciesMs[0], userTexts: s.userTexts };
      });
      result.rssMb = treeRssMb(server.proc.pid);
      report.calls.push(result);
      i += 1;
    }
    await waitHealth(server.url, atRest, 60000);
    await sleep(REST_MS);
    report.afterRestMb = treeRssMb(server.proc.pid);
    report.afterServer = ownRss(server.proc.pid);
    dumpSmaps(server.proc.pid, 'after');
    report.afterHeapMb = (await metric(server.url, 'duplex_heap_in_use_bytes')) / 2 ** 20;
    report.afterOverBaseline = report.afterRestMb / report.baselineMb;
    report.peakMb = Math.max(report.baselineMb, ...report.calls.map((c) => c.rssMb));
    report.metricsSessionsStarted = await metric(server.url, 'duplex_sessions_started_total');
    report.metricsTurns = await metric(server.url, 'duplex_turns_total');
  } finally {
    report.serverExit = await stopServer(server);
  }
  console.log(JSON.stringify(report));
}

main().catch((e) => {
  console.error(e.stack || String(e));
  process.exit(1);
});
