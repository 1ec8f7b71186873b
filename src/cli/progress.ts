// Progress bars on stderr: redrawn in place when stderr is a terminal; otherwise (logs, CI, pipes) nothing
// while it runs and one summary line when it completes.

export class Progress {
  private lastPct = -1;
  private finished = false;
  private readonly t0 = performance.now();
  private readonly tty: boolean;
  constructor(private readonly label: string, private readonly enabled = true, private readonly stream: NodeJS.WriteStream = process.stderr) {
    this.tty = Boolean(stream.isTTY);
  }

  update(done: number, total: number, unit = ''): void {
    if (!this.enabled || this.finished || total <= 0) return;
    const pct = Math.min(100, Math.floor((100 * done) / total));
    const secs = (performance.now() - this.t0) / 1000;
    if (pct === 100) this.finished = true;
    if (!this.tty) {
      if (this.finished) this.stream.write(`${this.label}: ${fmt(total, unit)} in ${secs.toFixed(1)}s\n`);
      return;
    }
    if (pct === this.lastPct) return;
    this.lastPct = pct;
    const width = 30, fill = Math.round((width * pct) / 100);
    this.stream.write(`\r${this.label.padEnd(10)} [${'#'.repeat(fill)}${'.'.repeat(width - fill)}] ${String(pct).padStart(3)}% ${fmt(done, unit)}/${fmt(total, unit)} ${secs.toFixed(1)}s`);
    if (this.finished) this.stream.write('\n');
  }
}

function fmt(n: number, unit: string): string {
  if (unit === 'B') {
    if (n >= 1 << 30) return `${(n / (1 << 30)).toFixed(2)} GiB`;
    if (n >= 1 << 20) return `${(n / (1 << 20)).toFixed(1)} MiB`;
    return `${(n / 1024).toFixed(0)} KiB`;
  }
  return `${n}${unit ? ' ' + unit : ''}`;
}
