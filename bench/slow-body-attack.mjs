// Usage: node bench/slow-body-attack.mjs <port> <attackers> <seconds> <model name> <image file>  (against a running `node modules/inference/dist/main.js`)
// Slow-body attack on the image-request gate: N sockets send headers of POST /v2/models/<m>/infer (Content-Length 270000),
// then 1 byte per second; each reopens as soon as the server closes it. Meanwhile a real client POSTs a whole image
// to /v1/detect every 100 ms. Prints how often and for how long the real client was refused.
import net from 'node:net';
import { readFileSync } from 'node:fs';
const [port, attackers, seconds, model = 'yolox'] = [Number(process.argv[2]), Number(process.argv[3]), Number(process.argv[4]), process.argv[5]];
const image = readFileSync(process.argv[6]);
let stop = false;
const ended = {};
function attacker() {
  if (stop) return;
  const socket = net.connect(port, '127.0.0.1');
  let timer;
  let got = '';
  socket.on('connect', () => {
    socket.write(`POST /v2/models/${model}/infer HTTP/1.1\r\nHost: d\r\nContent-Type: application/json\r\nContent-Length: 270000\r\n\r\n{`);
    timer = setInterval(() => socket.write(' '), 1000);
  });
  socket.on('data', (c) => (got += c.toString()));
  socket.on('error', () => undefined);
  socket.on('close', () => {
    clearInterval(timer);
    const s = /^HTTP\/1\.1 (\d{3})/.exec(got)?.[1] ?? 'closed';
    ended[s] = (ended[s] ?? 0) + 1;
    setTimeout(attacker, 10);
  });
}
function real() {
  return new Promise((resolve) => {
    const started = performance.now();
    const socket = net.connect(port, '127.0.0.1');
    let got = '';
    socket.on('connect', () => socket.write(Buffer.concat([Buffer.from(`POST /v1/detect HTTP/1.1\r\nHost: d\r\nConnection: close\r\nContent-Type: image/jpeg\r\nContent-Length: ${image.length}\r\n\r\n`), image])));
    socket.on('data', (c) => (got += c.toString()));
    socket.on('error', () => undefined);
    socket.on('close', () => resolve({ status: /^HTTP\/1\.1 (\d{3})/.exec(got)?.[1] ?? 'closed', ms: performance.now() - started, at: started }));
  });
}
for (let i = 0; i < attackers; i += 1) attacker();
await new Promise((r) => setTimeout(r, 1500));
const t0 = performance.now();
const results = [];
while (performance.now() - t0 < seconds * 1000) {
  results.push(await real());
  await new Promise((r) => setTimeout(r, 100));
}
stop = true;
const counts = {};
for (const r of results) counts[r.status] = (counts[r.status] ?? 0) + 1;
let longest = 0, runStart;
for (const r of results) {
  if (r.status !== '200') { runStart ??= r.at; longest = Math.max(longest, r.at + r.ms - runStart); } else runStart = undefined;
}
const ok = results.filter((r) => r.status === '200').map((r) => r.ms).sort((a, b) => a - b);
console.log(JSON.stringify({ attackers, seconds, real: counts, refusedShare: +(1 - (counts['200'] ?? 0) / results.length).toFixed(3), longestRefusedRunS: +(longest / 1000).toFixed(1), okP50ms: ok[Math.floor(ok.length / 2)]?.toFixed(0), attackerEnded: ended }));
process.exit(0);
