// duplex page: connects to the server over WebRTC (one audio track each way, a data channel
// for the session's events), shows the microphone level, the transcript of both sides and
// each turn's voice-to-voice latency, and what the server remembers for this browser between
// calls (with a button to forget each, and all). A call the server refuses (full, or this
// address has its share) or ends (its maximum length) shows the server's own reason.
// Standard APIs only (Chromium and Firefox).
// URL parameters (for tests): ?raw=1 turns the browser's echo cancellation, noise suppression
// and gain control off; ?threshold=0.02 sets the latency meter's level threshold; ?duck=0 turns
// off the page's own duck of the agent's voice when the user starts talking over it.
'use strict';

const params = new URLSearchParams(location.search);
const RAW = params.get('raw') === '1';
const THRESHOLD = Number(params.get('threshold') || 0.02);
const DUCK = params.get('duck') !== '0';
// The duck's gain on the voice element (40 dB down); the meter applies the same.
const DUCK_VOLUME = 0.01;
const GATHER_TIMEOUT_MS = 3000;
const CONNECT_TIMEOUT_MS = 15000;
const READY_TIMEOUT_MS = 30000;

// Everything the page shows, also readable by tests.
const state = (window.duplex = {
  status: 'idle',
  userTexts: [],
  agentTexts: [],
  interrupted: [],
  latenciesMs: [],
  stopsMs: [],
  ducks: 0,
  micRms: 0,
  remotePeak: 0,
  remoteLoudSamples: 0,
  firstAudio: 0,
  onsets: [],
  events: [],
  error: null,
  errors: [],
  connectMs: null,
  ready: false,
  cueNotes: [],
  memories: [],
  ended: null,
  live: false,
});

const $ = (id) => document.getElementById(id);
let call = null;

function setStatus(text) {
  state.status = text;
  $('status').textContent = text;
}

function line(cls, text) {
  const p = document.createElement('p');
  p.className = cls;
  p.textContent = text;
  $('transcript').appendChild(p);
  return p;
}

// The wait for the session's "ready" event: { resolve, reject }.
let readyWaiter = null;

// Agent lines by turn: created when its voice starts, filled when the reply is over.
const agentLines = new Map();

function onEvent(e) {
  if (state.events.length < 500) {
    state.events.push({ event: e.event || e.stage, at: e.at ?? e.recorded_at, wall_ms: e.wall_ms, cost_ms: e.cost_ms });
  }
  if (e.starting_for_ms !== undefined) {
    // The engines are still loading (a busy machine): the server is alive, so wait on.
    if (readyWaiter) readyWaiter.extend(e.starting_for_ms);
    return;
  }
  if (e.ready_after_ms !== undefined) {
    // The session's engines are loaded: the microphone may open.
    state.ready = true;
    if (readyWaiter) readyWaiter.resolve();
    return;
  }
  if (e.ending !== undefined) {
    // The server ends the call (its maximum length): the goodbye plays, then it hangs up.
    state.ended = e.ending;
    line('ended', 'The call ends: ' + e.ending + '.');
    setStatus('ended: ' + e.ending);
    if (readyWaiter) readyWaiter.reject(new Error(e.ending));
    return;
  }
  if (e.cues !== undefined) {
    // How the user spoke (non-verbal cues): shown beside their words.
    state.cueNotes.push(e.note);
    const lines = document.querySelectorAll('#transcript p.user');
    const last = lines[lines.length - 1];
    if (e.note && last) last.title = 'heard as: ' + e.note;
    return;
  }
  if (e.error !== undefined) {
    // An engine failed: say so in words, not only in the server's log.
    state.errors.push(e.error);
    if (e.severity === 'fatal' && readyWaiter) readyWaiter.reject(new Error(e.error));
    if (e.severity === 'recovered') state.restarts = (state.restarts || 0) + 1;
    line('error', e.severity === 'fatal'
      ? 'The agent stopped working (' + e.error + '). Reload the page to start a new call.'
      : e.severity === 'recovered'
        ? 'The agent restarted its brain (' + e.error + '). You can go on talking.'
        : 'One step failed and was skipped (' + e.error + '); the agent carries on.');
    return;
  }
  switch (e.event) {
    case 'backchannel':
      state.backchannels = (state.backchannels || 0) + 1;
      break;
    case 'user_text':
      if (e.text && e.text.trim()) {
        state.userTexts.push(e.text.trim());
        line('user', e.text.trim());
      }
      break;
    case 'first_audio': {
      state.firstAudio++;
      agentLines.set(e.turn, line('agent speaking', '…'));
      break;
    }
    case 'assistant_text': {
      const p = agentLines.get(e.turn) || line('agent', '');
      p.classList.remove('speaking');
      p.textContent = e.text;
      if (e.interrupted) p.classList.add('cut');
      if (e.broke_off) {
        p.classList.add('cut');
        p.title = 'cut off: the agent\'s language model failed mid-reply';
      }
      state.agentTexts.push(e.text);
      state.interrupted.push(!!e.interrupted);
      break;
    }
  }
}

function onMeter(msg) {
  const m = msg.data;
  if (m.type === 'level') {
    state.micRms = m.rms;
    state.remotePeak = m.remotePeak;
    state.remoteLoudSamples = m.remoteLoud;
    const pct = Math.min(100, Math.round(Math.sqrt(m.rms) * 250));
    $('level').firstElementChild.style.width = pct + '%';
  } else if (m.type === 'onset') {
    state.onsets.push(m);
  } else if (m.type === 'duck') {
    state.ducks += m.on ? 1 : 0;
    $('remote').volume = m.on ? DUCK_VOLUME : 1;
  } else if (m.type === 'stop') {
    state.stopsMs.push(m.ms);
  } else if (m.type === 'latency') {
    state.latenciesMs.push(m.ms);
    const li = document.createElement('li');
    li.textContent = Math.round(m.ms) + ' ms';
    $('latency').appendChild(li);
  }
}

function waitFor(check, subscribe, ms, what) {
  return new Promise((resolve, reject) => {
    if (check()) return resolve();
    const timer = setTimeout(() => reject(new Error(what)), ms);
    subscribe(() => {
      if (check()) {
        clearTimeout(timer);
        resolve();
      }
    });
  });
}

async function start() {
  setStatus('connecting');
  state.ready = false;
  readyWaiter = null;
  const ctx = new AudioContext();
  await ctx.audioWorklet.addModule('/meter-worklet.js');
  const meter = new AudioWorkletNode(ctx, 'duplex-meter', {
    numberOfInputs: 2,
    numberOfOutputs: 1,
    outputChannelCount: [1],
    processorOptions: { threshold: THRESHOLD, duck: DUCK },
  });
  meter.port.onmessage = onMeter;
  // The meter outputs silence; connecting it keeps the audio graph pulling it.
  meter.connect(ctx.destination);

  const pc = new RTCPeerConnection({ iceServers: [] });
  call = { ctx, pc, mic: null };
  state.live = true;
  const transceiver = pc.addTransceiver('audio', { direction: 'sendrecv' });
  const channel = pc.createDataChannel('events');
  call.channel = channel;
  channel.onmessage = (m) => onEvent(JSON.parse(m.data));
  // The server closed the call after saying why: hang up here too, keeping the reason shown.
  channel.onclose = () => {
    if (state.ended && call && call.pc === pc) hangUp('ended: ' + state.ended);
  };
  pc.ontrack = (e) => {
    const stream = e.streams[0] || new MediaStream([e.track]);
    // The element plays the voice (so the browser's echo canceller hears it); the meter only
    // listens. Chromium feeds a remote stream to Web Audio only while an element plays it.
    $('remote').srcObject = stream;
    $('remote').play().catch(() => {});
    ctx.createMediaStreamSource(stream).connect(meter, 0, 1);
  };
  pc.onconnectionstatechange = () => {
    if (!call || call.pc !== pc) return;
    if (!state.ended) setStatus(pc.connectionState);
    else if (['closed', 'failed', 'disconnected'].includes(pc.connectionState)) hangUp('ended: ' + state.ended);
  };

  await pc.setLocalDescription(await pc.createOffer());
  await waitFor(
    () => pc.iceGatheringState === 'complete',
    (f) => pc.addEventListener('icegatheringstatechange', f),
    GATHER_TIMEOUT_MS,
    'ICE gathering timed out',
  ).catch(() => {}); // answer with the candidates gathered so far
  const res = await fetch('/offer', {
    method: 'POST',
    headers: { 'Content-Type': 'application/sdp' },
    body: pc.localDescription.sdp,
  });
  const body = await res.text();
  if (!res.ok) {
    // The server says why (full, this address has its share, not from this page): show it.
    const reason = 'server refused the call (' + res.status + '): ' + body.trim();
    line('error', reason);
    throw new Error(reason);
  }
  await pc.setRemoteDescription({ type: 'answer', sdp: body });
  await waitFor(
    () => pc.connectionState === 'connected',
    (f) => pc.addEventListener('connectionstatechange', f),
    CONNECT_TIMEOUT_MS,
    'no connection to the server (is UDP to it blocked?)',
  );
  // The microphone is opened only once the session listens (its engines loaded; at once on an
  // idle server, a second or two when another call is running), then put on the already
  // negotiated sender.
  if (!state.ready) {
    setStatus('starting the agent');
    await new Promise((resolve, reject) => {
      // Given up on only when the server says nothing for READY_TIMEOUT_MS: while its engines
      // load it says so every few seconds, and a busy machine may need a minute or more.
      let deadline = null;
      const arm = () => {
        clearTimeout(deadline);
        deadline = setTimeout(() => reject(new Error(state.errors.at(-1) || 'the agent did not start: the server was silent for ' + READY_TIMEOUT_MS / 1000 + ' s')), READY_TIMEOUT_MS);
      };
      readyWaiter = {
        resolve: () => { clearTimeout(deadline); resolve(); },
        reject: (e) => { clearTimeout(deadline); reject(e); },
        extend: (ms) => {
          setStatus('starting the agent (' + Math.round(ms / 1000) + ' s: the machine is busy)');
          arm();
        },
      };
      pc.addEventListener('connectionstatechange', () => {
        if (['failed', 'closed'].includes(pc.connectionState)) reject(new Error('the call ended before the agent started'));
      });
      arm();
    });
  }
  const mic = await navigator.mediaDevices.getUserMedia({
    audio: { echoCancellation: !RAW, noiseSuppression: !RAW, autoGainControl: !RAW, channelCount: 1 },
  });
  call.mic = mic;
  await transceiver.sender.replaceTrack(mic.getAudioTracks()[0]);
  ctx.createMediaStreamSource(mic).connect(meter, 0, 0);
  setStatus('listening');
}

// Ends the call on this side and shows `status` (idle, or why the server ended it).
function stop(status = 'idle') {
  if (!call) return;
  // Tell the server at once: a closing tab often says nothing on the wire.
  if (call.channel && call.channel.readyState === 'open') {
    try { call.channel.send('hangup'); } catch { /* closing anyway */ }
  }
  if (call.mic) call.mic.getTracks().forEach((t) => t.stop());
  call.pc.close();
  call.ctx.close();
  call = null;
  state.live = false;
  setStatus(status);
  // The server keeps the call's last words and its summary as the session ends.
  setTimeout(loadMemories, 1500);
}

// What the server remembers for this browser (its cookie names its profile), newest first.
async function loadMemories() {
  const list = $('memories');
  const status = $('memory-status');
  list.replaceChildren();
  $('forget-all').hidden = true;
  let data;
  try {
    const res = await fetch('/memory');
    if (!res.ok) throw new Error(await res.text());
    data = await res.json();
  } catch (err) {
    status.textContent = 'Memory unavailable: ' + (err && err.message ? err.message : err);
    return;
  }
  state.memories = data.memories;
  if (!data.enabled) {
    status.textContent = 'Memory is off on this server: nothing is kept between calls.';
    return;
  }
  status.textContent = data.memories.length ? '' : 'Nothing yet.';
  $('forget-all').hidden = !data.memories.length;
  for (const m of data.memories) {
    const li = document.createElement('li');
    const when = document.createElement('span');
    when.className = 'when';
    when.textContent = m.when + (m.kind === 'call' ? ', a call' : '');
    const forget = document.createElement('button');
    forget.type = 'button';
    forget.textContent = 'Forget';
    forget.addEventListener('click', () => forgetMemory({ id: m.id }));
    li.append(when, m.text, forget);
    list.appendChild(li);
  }
}

async function forgetMemory(what) {
  const res = await fetch('/memory/forget', {
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify(what),
  });
  if (!res.ok) $('memory-status').textContent = 'Could not forget: ' + (await res.text());
  await loadMemories();
}

$('forget-all').addEventListener('click', () => forgetMemory({ all: true }));
loadMemories();

// A tab closing or navigating away hangs up.
window.addEventListener('pagehide', () => stop());

// The call ended by the server: the button offers a new one.
function hangUp(status) {
  stop(status);
  $('talk').textContent = 'Talk';
  $('talk').classList.remove('live');
}

$('talk').addEventListener('click', async () => {
  const button = $('talk');
  if (call) {
    stop();
    button.textContent = 'Talk';
    button.classList.remove('live');
    return;
  }
  button.textContent = 'Hang up';
  button.classList.add('live');
  state.ended = null;
  const pressed = performance.now();
  try {
    await start();
    state.connectMs = performance.now() - pressed;
  } catch (err) {
    state.error = String(err && err.message ? err.message : err);
    stop();
    setStatus('error: ' + state.error);
    button.textContent = 'Talk';
    button.classList.remove('live');
  }
});
