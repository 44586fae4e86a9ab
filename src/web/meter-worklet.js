// duplex page: an AudioWorklet on the page's one AudioContext. Input 0 is the microphone,
// input 1 the agent's voice. It reports the microphone level, and for each reply the time from
// the last microphone sample above the threshold to the first reply sample above it, counted in
// samples of the same audio clock (so no timer jitter enters the figure). When the microphone
// turns loud while the agent is talking (a barge-in), it also reports the stop time: from that
// onset to the agent's voice staying at least 20 dB below its speaking level (the mean power of
// its sounding 10 ms windows in the second before), for 300 ms (longer than the voice's own
// pauses), as the listener hears it (the duck below included).
//
// The first stage of a barge-in happens here, at the edge: when the microphone turns loud while
// the agent is audible (louder than a share of the agent's own level, so that an echo the
// browser's canceller left does not count), the page ducks the agent's voice by 40 dB at once,
// and releases it once the microphone has been quiet for 300 ms. The server pauses, resumes or
// cuts the reply a few hundred ms later, over the network; the duck only bridges that time.
// The duck: 40 dB down (the server rewinds a paused reply by the network's lag, so what the
// duck hid is heard again when the reply resumes).
const DUCK_GAIN = 0.01;

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
    // Stop-time meter: remote power per 10 ms window, the last 100 of them (1 s).
    this.win = Math.round(sampleRate / 100);
    this.winSum = 0;
    this.winCount = 0;
    this.recent = [];
    this.barge = null;
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
        if (Math.abs(s) > this.threshold) {
          const t = t0 + i;
          // The agent is talking: heard in the last 500 ms (its pauses between words included).
          const agentTalking = t - this.lastRemoteLoud < sampleRate / 2;
          if (agentTalking && this.duckEnabled && this.duckGain === 1 && this.recent.length > 0) {
            // Louder than half the agent's level of the last 100 ms (no echo residual is).
            const last = this.recent.slice(-10);
            const agentRms = Math.sqrt(last.reduce((a, b) => a + b, 0) / last.length);
            if (Math.abs(s) > 0.5 * agentRms) this.setDuck(true);
          }
          // The user's onset (after 300 ms of quiet) while the agent talks: time the stop.
          if (agentTalking && !this.barge && t - this.lastMicLoud > this.replyGap && this.recent.length === 100) {
            const sounding = this.recent.filter((p) => p > 1e-6);
            const level = sounding.reduce((a, b) => a + b, 0) / Math.max(1, sounding.length);
            this.barge = { onset: t, level, quietFrom: null };
          }
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
    if (this.duckGain !== 1 && t0 - this.lastMicLoud > this.duckRelease) this.setDuck(false);
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
