/** Where training reports progress: a redrawn bar on a terminal, one plain line per epoch otherwise. */
export interface Progress {
  epochStart(stage: string, epoch: number, epochs: number, batches: number): void;
  batch(done: number, loss: number, accuracy: number, samplesPerSecond: number): void;
  epochEnd(line: string): void;
  info(line: string): void;
}

export function makeProgress(write: (s: string) => void, tty: boolean): Progress {
  let prefix = "";
  let total = 0;
  let lastDraw = 0;
  return {
    epochStart(stage, epoch, epochs, batches) {
      prefix = `${stage} ${epoch}/${epochs}`;
      total = batches;
    },
    batch(done, loss, accuracy, sps) {
      if (!tty) return;
      const now = Date.now();
      if (done < total && now - lastDraw < 100) return;
      lastDraw = now;
      const width = 24;
      const filled = Math.round((done / total) * width);
      write(`\r${prefix} [${"=".repeat(filled)}${" ".repeat(width - filled)}] ${done}/${total} loss ${loss.toFixed(4)} acc ${accuracy.toFixed(3)} ${sps.toFixed(0)} samples/s`);
    },
    epochEnd(line) {
      write(tty ? `\r\x1b[K${line}\n` : `${line}\n`);
    },
    info(line) {
      write(`${line}\n`);
    },
  };
}

export const silentProgress: Progress = { epochStart() {}, batch() {}, epochEnd() {}, info() {} };
