// Usage: node bench/slow-upload.mjs <port> <image file>  (about 2 MB for the figure in docs/security.md)
// A legitimate slow upload: a ~2 MB image body at 64 KiB/s to /v1/detect.
import net from 'node:net';
import { readFileSync } from 'node:fs';
const port = Number(process.argv[2]);
const image = readFileSync(process.argv[3]);
const rate = 64 * 1024;
const started = performance.now();
const socket = net.connect(port, '127.0.0.1');
let got = '';
socket.on('connect', async () => {
  socket.write(`POST /v1/detect HTTP/1.1\r\nHost: d\r\nConnection: close\r\nContent-Type: image/jpeg\r\nContent-Length: ${image.length}\r\n\r\n`);
  for (let off = 0; off < image.length; off += rate / 10) {
    socket.write(image.subarray(off, off + rate / 10));
    await new Promise((r) => setTimeout(r, 100));
  }
});
socket.on('data', (c) => (got += c.toString()));
socket.on('error', (e) => console.log('error', e.message));
socket.on('close', () => { console.log(JSON.stringify({ bytes: image.length, status: /^HTTP\/1\.1 (\d{3})/.exec(got)?.[1] ?? 'closed', seconds: +((performance.now() - started) / 1000).toFixed(1), body: got.slice(got.indexOf('\r\n\r\n') + 4, got.indexOf('\r\n\r\n') + 120) })); });
