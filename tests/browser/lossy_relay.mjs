// A userspace UDP relay that impairs a WebRTC call's media like a lossy, jittery network, for
// the `lossy` browser scenario. Chromium's own simulation (the WebRTC-FakeNetworkSendConfig
// field trial) is accepted by Debian's Chromium 156 (chrome://version lists it) but has no effect
// on its calls (two peer connections in one page lost nothing at loss_percent:50), and this
// kernel has no netem; so the call's SDP is rewritten, both ways, to name this relay as the
// other side. From the browser to the server it drops a share of the RTP packets (seeded, so a
// run loses the same packets) and delays each RTP and RTCP packet on its own (a normal spread,
// so packets overtake each other); ICE and DTLS pass at once, untouched, and so does everything
// from the server to the browser.
import dgram from 'node:dgram';

// A small seeded generator (mulberry32): uniform in [0, 1).
function seeded(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

// RTP or RTCP (RFC 7983: first byte 128-191); RTCP has packet types 192-223 (RFC 5761).
const isRtpOrRtcp = (p) => p.length >= 2 && p[0] >= 128 && p[0] <= 191;
const isRtcp = (p) => p[1] >= 192 && p[1] <= 223;

// Starts a relay; `relay.target = { address, port }` (the server) must be set before it
// forwards anything. Resolves to { port, stats, target, close }.
export async function startLossyRelay({ lossPercent, delayMs, jitterMs, seed = 1 }) {
  // Separate generators, so that which RTP packets are lost does not depend on the RTCP.
  const lossRandom = seeded(seed);
  const delayRandom = seeded(seed + 1);
  const gaussian = () =>
    Math.sqrt(-2 * Math.log(1 - delayRandom())) * Math.cos(2 * Math.PI * delayRandom());
  const socket = dgram.createSocket('udp4');
  const stats = { rtpForwarded: 0, rtpDropped: 0, rtcpForwarded: 0, overtaken: 0 };
  const relay = { port: 0, stats, target: null, close: () => socket.close() };
  let browser = null;
  let lastArrival = 0;
  socket.on('message', (packet, from) => {
    const target = relay.target;
    if (!target) return;
    if (from.address === target.address && from.port === target.port) {
      if (browser) socket.send(packet, browser.port, browser.address);
      return;
    }
    browser = { address: from.address, port: from.port };
    if (!isRtpOrRtcp(packet)) {
      socket.send(packet, target.port, target.address);
      return;
    }
    const rtcp = isRtcp(packet);
    if (!rtcp && lossRandom() * 100 < lossPercent) {
      stats.rtpDropped += 1;
      return;
    }
    const delay = Math.max(0, delayMs + jitterMs * gaussian());
    const arrival = Date.now() + delay;
    if (!rtcp && arrival < lastArrival) stats.overtaken += 1;
    if (!rtcp) lastArrival = Math.max(lastArrival, arrival);
    setTimeout(() => socket.send(packet, target.port, target.address), delay);
    if (rtcp) stats.rtcpForwarded += 1;
    else stats.rtpForwarded += 1;
  });
  await new Promise((resolve) => socket.bind(0, '127.0.0.1', resolve));
  relay.port = socket.address().port;
  return relay;
}

// Points each UDP host candidate of `sdp` at 127.0.0.1:`port`; returns the new SDP and the
// first candidate's old address.
function candidatesTo(sdp, port) {
  let first = null;
  const out = sdp.replace(
    /^(a=candidate:\S+ \d+ udp \d+ )(\S+) (\d+)( typ host.*)$/gim,
    (_, head, address, oldPort, tail) => {
      first ??= { address, port: Number(oldPort) };
      return `${head}127.0.0.1 ${port}${tail}`;
    },
  );
  return { sdp: out, first };
}

// Routes the context's POST /offer through a relay (kept in `holder.relay`): the browser's
// offer names the relay as the browser, the server's answer names it as the server, so both
// directions of the call pass it.
export async function relayCallThrough(context, impairment, holder) {
  await context.route('**/offer', async (route) => {
    const relay = await startLossyRelay(impairment);
    holder.relay = relay;
    const offer = candidatesTo(route.request().postData(), relay.port);
    const response = await route.fetch({ postData: offer.sdp });
    const answer = candidatesTo(await response.text(), relay.port);
    if (!answer.first) throw new Error('no UDP host candidate in the answer');
    relay.target = answer.first;
    await route.fulfill({ response, body: answer.sdp });
  });
}
