/**
 * Progress of a long command, on standard error so that standard output
 * stays the command's answer: a bar (cli-progress) on a terminal; elsewhere
 * (a log, a pipe, CI) a plain line at every tenth of the way, or every
 * 10,000 sessions when the total is not known, and one at the end.
 */
import cliProgress from 'cli-progress';

export interface Progress {
  /** `count` more sessions done. */
  tick(count?: number): void;
  /** The total became known (or changed). */
  setTotal(total: number): void;
  stop(): void;
}

const UNKNOWN_TOTAL_STEP = 10_000;

export function startProgress(label: string, total: number | null, start: number, stream: NodeJS.WritableStream & { isTTY?: boolean } = process.stderr): Progress {
  if (stream.isTTY === true) {
    const bar = new cliProgress.SingleBar(
      {
        stream,
        format: total === null ? `${label} {value} sessions | {duration_formatted}` : `${label} [{bar}] {percentage}% | {value}/{total} sessions | ETA {eta_formatted}`,
        hideCursor: true,
        etaBuffer: 100,
      },
      cliProgress.Presets.shades_classic,
    );
    bar.start(total ?? 0, start);
    return { tick: (count = 1) => bar.increment(count), setTotal: (next) => bar.setTotal(next), stop: () => bar.stop() };
  }
  let done = start;
  let known = total;
  let reported = -1;
  const step = (): number => (known === null ? UNKNOWN_TOTAL_STEP : Math.max(1, Math.ceil(known / 10)));
  const line = (): string => (known === null || known === 0 ? `${label}: ${done} sessions` : `${label}: ${done}/${known} sessions (${Math.floor((done / known) * 100)}%)`);
  return {
    tick(count = 1) {
      done += count;
      const mark = Math.floor(done / step());
      if (mark > reported) {
        reported = mark;
        stream.write(`${line()}\n`);
      }
    },
    setTotal(next) {
      known = next;
    },
    stop() {
      stream.write(`${line()}, done\n`);
    },
  };
}
