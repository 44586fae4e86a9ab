// duplex page: an AudioWorklet on the page's one AudioContext. Input 0 is the microphone,
// input 1 the agent's voice. It reports the microphone level, and for each reply the time from
// the last microphone sample above the threshold to the first reply sample above it, counted in
// samples of the same audio clock (so no timer jitter enters the figure).
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
          this.lastMicLoud = t0 + i;
          // Voice heard while the agent is silent: the next reply sample ends a turn.
          if (t0 + i - this.lastRemoteLoud > this.replyGap) this.armed = true;
        }
      }
    }
    if (remote) {
      for (let i = 0; i < remote.length; i++) {
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
