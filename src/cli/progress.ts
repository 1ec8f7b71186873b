// Progress bars on stderr: redrawn in place on a terminal, a line every 10% otherwise (logs, CI).

export class Progress {
  private lastPct = -1;
  private readonly t0 = performance.now();
  private readonly tty: boolean;
  constructor(private readonly label: string, private readonly enabled = true, private readonly stream: NodeJS.WriteStream = process.stderr) {
    this.tty = Boolean(stream.isTTY);
  }

  update(done: number, total: number, unit = ''): void {
    if (!this.enabled || total <= 0) return;
    const pct = Math.min(100, Math.floor((100 * done) / total));
    if (pct === this.lastPct || (!this.tty && pct < 100 && pct - this.lastPct < 10 && this.lastPct >= 0)) return;
    this.lastPct = pct;
    const secs = (performance.now() - this.t0) / 1000;
    const width = 30, fill = Math.round((width * pct) / 100);
    const text = `${this.label.padEnd(10)} [${'#'.repeat(fill)}${'.'.repeat(width - fill)}] ${String(pct).padStart(3)}% ${fmt(done, unit)}/${fmt(total, unit)} ${secs.toFixed(1)}s`;
    this.stream.write(this.tty ? `\r${text}` : `${text}\n`);
    if (this.tty && pct === 100) this.stream.write('\n');
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
