/**
 * One target measured at a time: while a phase runs, the other targets'
 * servers and stores are paused (SIGSTOP) and resumed (SIGCONT) after it.
 *
 * An idle server is not idle on the CPU: V8 runs a full collection a few
 * seconds after a Node process goes quiet (its memory reducer), on the
 * platform's four helper threads, and for a few hundred milliseconds those
 * take more than one of this machine's two cores. Tessera's process did that
 * during the baselines' phases, and theirs during Tessera's, which put
 * 50–100 ms stalls into whichever target was being measured
 * (docs/PERFORMANCE.md, "Where slow requests wait, split at the socket").
 */
import type { Target } from '../targets/target.js';

export class Isolation {
  readonly #paused = new Set<number>();

  /** `work` with every process of every target but `target` paused. */
  async alone<T>(target: Target, all: readonly Target[], work: () => Promise<T>): Promise<T> {
    for (const other of all) {
      if (other === target) continue;
      for (const pids of other.pids.values()) for (const pid of pids) if (signal(pid, 'SIGSTOP')) this.#paused.add(pid);
    }
    try {
      return await work();
    } finally {
      this.resumeAll();
    }
  }

  /** Resumes whatever is paused (also on the way out, so no process is left stopped). */
  resumeAll(): void {
    for (const pid of this.#paused) signal(pid, 'SIGCONT');
    this.#paused.clear();
  }
}

function signal(pid: number, name: 'SIGSTOP' | 'SIGCONT'): boolean {
  try {
    process.kill(pid, name);
    return true;
  } catch {
    return false; // Gone already: its target has failed or stopped.
  }
}
