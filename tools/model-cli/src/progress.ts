/** Upload progress: a bar redrawn in place on a terminal, plain lines every 10% otherwise (logs, CI). */
export function progressReporter(totalBytes: number, stream: NodeJS.WriteStream = process.stderr): (loadedBytes: number) => void {
  let lastTenth = -1;
  return (loadedBytes) => {
    const fraction = totalBytes === 0 ? 1 : Math.min(1, loadedBytes / totalBytes);
    if (stream.isTTY) {
      const width = 30;
      const filled = Math.round(fraction * width);
      stream.write(`\r  [${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${(fraction * 100).toFixed(0).padStart(3)}% ${(loadedBytes / 1048576).toFixed(1)} MiB${fraction === 1 ? '\n' : ''}`);
      return;
    }
    const tenth = Math.floor(fraction * 10);
    if (tenth > lastTenth) {
      lastTenth = tenth;
      stream.write(`uploaded ${(fraction * 100).toFixed(0)}% (${loadedBytes} of ${totalBytes} bytes)\n`);
    }
  };
}
