/**
 * The progress display: one live status line on a terminal (phase, target,
 * elapsed, sent, recent p99), plain log lines otherwise (CI, pipes).
 */
const tty = process.stdout.isTTY === true;

export class Progress {
  private readonly started = Date.now();
  private phaseIndex = 0;
  private live = '';

  constructor(private readonly totalPhases: number) {}

  /** A line that stays (phase results, warnings). */
  log(text: string): void {
    if (tty && this.live) process.stdout.write('\r\x1b[K');
    process.stdout.write(`${text}\n`);
    if (tty && this.live) process.stdout.write(this.live);
  }

  phase(title: string): void {
    this.phaseIndex++;
    this.lastPlainStatus = Date.now();
    this.status(title);
    if (!tty) process.stdout.write(`${this.prefix()} ${title}\n`);
  }

  private lastPlainStatus = 0;

  /** Replaces the live status line; without a terminal, prints it every 30 s at most. */
  status(text: string): void {
    if (!tty) {
      if (Date.now() - this.lastPlainStatus >= 30_000) {
        this.lastPlainStatus = Date.now();
        process.stdout.write(`${this.prefix()} … ${text}\n`);
      }
      return;
    }
    const columns = process.stdout.columns ?? 120;
    this.live = `${this.prefix()} ${text}`.slice(0, columns - 1);
    process.stdout.write(`\r\x1b[K${this.live}`);
  }

  done(): void {
    if (tty && this.live) process.stdout.write('\r\x1b[K');
    this.live = '';
  }

  private prefix(): string {
    const s = Math.round((Date.now() - this.started) / 1000);
    return `[${String(Math.floor(s / 60)).padStart(2, '0')}:${String(s % 60).padStart(2, '0')} ${this.phaseIndex}/${this.totalPhases}]`;
  }
}

export function bar(fraction: number, width = 20): string {
  const f = Math.max(0, Math.min(1, fraction));
  const full = Math.round(f * width);
  return `${'█'.repeat(full)}${'░'.repeat(width - full)}`;
}

export const fmtInt = (n: number): string => Math.round(n).toLocaleString('en-US');
export const fmtMs = (ms: number): string => (ms >= 100 ? ms.toFixed(0) : ms >= 10 ? ms.toFixed(1) : ms.toFixed(2));
