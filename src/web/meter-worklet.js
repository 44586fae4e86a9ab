// duplex page: an AudioWorklet on the page's one AudioContext. Input 0 is the microphone,
// input 1 the agent's voice. It reports the microphone level, and for each reply the time from
// the last microphone sample above the threshold to the first reply sample above it, counted in
// samples of the same audio clock (so no timer jitter enters the figure).
//
// Barge-in, at the edge. Every 10 ms the last 30 ms of microphone are checked for voice: above
// -40 dBFS, with a normalised autocorrelation peak above 0.6 at a 70-400 Hz pitch (on the signal
// halved in rate). When the microphone turns voiced while the agent is talking, and louder than a
// share of the agent's own level (so that an echo the browser's canceller left does not count),
// the page ducks the agent's voice by 40 dB at once and releases it once the microphone has been
// unvoiced for 300 ms; the server pauses, resumes or cuts the reply a few hundred ms later, over
// the network, and the duck bridges that time. The meter also reports the stop time: from the
// first voiced microphone frame (after 300 ms without one) to the agent's voice, as the listener
// hears it (the duck included), staying at least 20 dB below its speaking level (the mean power
// of its sounding 10 ms windows in the second before) for 300 ms, longer than its own pauses.

// The duck: 40 dB down (the server rewinds a paused reply by the network's lag, so what the
// duck hid is heard again when the reply resumes).
const DUCK_GAIN = 0.01;
// The mic frame's level against the agent's that counts as the user (not echo).
const OVER_ECHO = 0.25;

class DuplexMeter extends AudioWorkletProcessor {
  constructor(options) {
    super();
    const o = (options && options.processorOptions) || {};
    this.threshold = o.threshold || 0.02;
    // A reply sample this close after an earlier one is the same reply, not a new one.
    this.replyGap = Math.round((o.replyGapMs || 300) * sampleRate / 1000);
    this.lastMicLoud = -1;
    this.lastRemoteLoud = -Infinity;
    this.armed = false;
    this.sumSq = 0;
    this.count = 0;
    this.remotePeak = 0;
    this.remoteLoud = 0;
    this.lastReport = 0;
    // Remote power per 10 ms window, the last 100 of them (1 s).
    this.win = Math.round(sampleRate / 100);
    this.winSum = 0;
    this.winCount = 0;
    this.recent = [];
    this.barge = null;
    // Voicing: the last 30 ms of microphone at half the rate, checked every 10 ms.
    this.frame = new Float32Array(Math.round((0.03 * sampleRate) / 2));
    this.scratch = new Float32Array(this.frame.length);
    this.cumulative = new Float64Array(this.frame.length + 1);
    this.framePos = 0;
    this.half = 0;
    this.sinceCheck = 0;
    this.lastVoiced = -Infinity;
    this.duckEnabled = o.duck !== false;
    this.duckGain = 1;
    this.duckRelease = Math.round(0.3 * sampleRate);
  }

  setDuck(on) {
    const gain = on ? DUCK_GAIN : 1;
    if (gain === this.duckGain) return;
    this.duckGain = gain;
    this.port.postMessage({ type: 'duck', on });
  }

  // Whether the last 30 ms (at half the rate) are voiced, and their RMS.
  voicing() {
    const n = this.frame.length;
    const x = this.scratch;
    for (let i = 0; i < n; i++) x[i] = this.frame[(this.framePos + i) % n];
    let energy = 0;
    for (let i = 0; i < n; i++) energy += x[i] * x[i];
    const rms = Math.sqrt(energy / n);
    if (rms < 0.01) return { voiced: false, rms };
    // Energies of the overlapping parts from running sums: one multiply per lag and sample.
    const cum = this.cumulative;
    for (let i = 0; i < n; i++) cum[i + 1] = cum[i] + x[i] * x[i];
    const rate = sampleRate / 2;
    for (let lag = Math.floor(rate / 400); lag <= Math.ceil(rate / 70) && lag < n / 2; lag++) {
      let dot = 0;
      for (let i = 0; i + lag < n; i++) dot += x[i] * x[i + lag];
      const a = cum[n - lag];
      const b = cum[n] - cum[lag];
      if (a > 0 && b > 0 && dot / Math.sqrt(a * b) > 0.6) return { voiced: true, rms };
    }
    return { voiced: false, rms };
  }

  // A 10 ms hop of microphone ended at `t`: barge-in onset and the duck.
  onHop(t) {
    const { voiced, rms } = this.voicing();
    if (!voiced) return;
    const agentTalking = t - this.lastRemoteLoud < sampleRate / 2;
    const last = this.recent.slice(-10);
    const agentRms = last.length ? Math.sqrt(last.reduce((a, b) => a + b, 0) / last.length) : 0;
    const fresh = t - this.lastVoiced > this.replyGap;
    this.lastVoiced = t;
    if (!agentTalking) return;
    if (this.duckEnabled && rms > OVER_ECHO * agentRms) this.setDuck(true);
    if (fresh && !this.barge && this.recent.length === 100) {
      const sounding = this.recent.filter((p) => p > 1e-6);
      const level = sounding.reduce((a, b) => a + b, 0) / Math.max(1, sounding.length);
      // The voiced frame began 30 ms before the hop's end.
      this.barge = { onset: t - 3 * this.win, level, quietFrom: null };
    }
  }

  // One 10 ms window of remote power is complete.
  windowDone(power, end) {
    const b = this.barge;
    if (b) {
      if (power <= b.level * 0.01) {
        if (b.quietFrom === null) b.quietFrom = end - this.win;
        if (end - b.quietFrom >= 30 * this.win) {
          this.port.postMessage({ type: 'stop', ms: Math.max(0, b.quietFrom - b.onset) * 1000 / sampleRate });
          this.barge = null;
        }
      } else {
        b.quietFrom = null;
      }
      if (this.barge && end - b.onset > 5 * sampleRate) this.barge = null; // never stopped
    }
    this.recent.push(power);
    if (this.recent.length > 100) this.recent.shift();
  }

  process(inputs) {
    const mic = inputs[0] && inputs[0][0];
    const remote = inputs[1] && inputs[1][0];
    const t0 = currentFrame;
    if (mic) {
      for (let i = 0; i < mic.length; i++) {
        const s = mic[i];
        this.sumSq += s * s;
        this.count++;
        // Half the rate (the mean of two) for the voicing check.
        if (++this.half === 2) {
          this.half = 0;
          this.frame[this.framePos] = (s + (i > 0 ? mic[i - 1] : s)) / 2;
          this.framePos = (this.framePos + 1) % this.frame.length;
        }
        if (++this.sinceCheck === this.win) {
          this.sinceCheck = 0;
          this.onHop(t0 + i + 1);
        }
        if (Math.abs(s) > this.threshold) {
          this.lastMicLoud = t0 + i;
          // Voice heard while the agent is silent: the next reply sample ends a turn.
          if (t0 + i - this.lastRemoteLoud > this.replyGap) this.armed = true;
        }
      }
    }
    if (remote) {
      for (let i = 0; i < remote.length; i++) {
        this.winSum += remote[i] * remote[i];
        if (++this.winCount === this.win) {
          // What the listener hears: the voice times the duck.
          this.windowDone((this.winSum / this.win) * this.duckGain * this.duckGain, t0 + i + 1);
          this.winSum = 0;
          this.winCount = 0;
        }
        const a = Math.abs(remote[i]);
        if (a > this.remotePeak) this.remotePeak = a;
        if (a > this.threshold) {
          const t = t0 + i;
          this.remoteLoud++;
          if (t - this.lastRemoteLoud > this.replyGap) {
            this.port.postMessage({ type: 'onset', t: t / sampleRate, mic: this.lastMicLoud / sampleRate, armed: this.armed });
          }
          if (this.armed && t > this.lastMicLoud) {
            this.armed = false;
            this.port.postMessage({ type: 'latency', ms: (t - this.lastMicLoud) * 1000 / sampleRate });
          }
          this.lastRemoteLoud = t;
        }
      }
    }
    if (this.duckGain !== 1 && t0 - this.lastVoiced > this.duckRelease) this.setDuck(false);
    if (t0 - this.lastReport >= sampleRate / 20) {
      this.lastReport = t0;
      const rms = this.count ? Math.sqrt(this.sumSq / this.count) : 0;
      this.port.postMessage({ type: 'level', rms, remotePeak: this.remotePeak, remoteLoud: this.remoteLoud });
      this.sumSq = 0;
      this.count = 0;
    }
    return true;
  }
}

registerProcessor('duplex-meter', DuplexMeter);
