/**
 * One simulation at a time on this machine. Each sim test file runs three
 * regions' worth of nats-server, Redis and Tessera processes with timing
 * that matters (leases, elections, RTOs); two at once on two cores starve each
 * other into failures that say nothing about the product. Node's test runner
 * runs files in parallel, so every sim file imports this module first: its
 * top-level await holds the file, before any test or timeout starts, until no
 * other live process holds the lock. The lock is released when the process
 * exits, and a lock left by a dead process is taken over.
 */
import { closeSync, openSync, readFileSync, rmSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const LOCK = join(tmpdir(), 'tessera-sim.lock');

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

function tryLock(): boolean {
  try {
    const fd = openSync(LOCK, 'wx');
    writeSync(fd, String(process.pid));
    closeSync(fd);
    return true;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
  }
  const holder = Number.parseInt(readFileSync(LOCK, 'utf8') || '0', 10);
  // A lock being written has no pid yet; only a lock whose holder is gone is stale.
  if (holder > 0 && !alive(holder)) rmSync(LOCK, { force: true });
  return false;
}

while (!tryLock()) await new Promise((resolve) => setTimeout(resolve, 250));
process.on('exit', () => {
  try {
    if (readFileSync(LOCK, 'utf8') === String(process.pid)) rmSync(LOCK, { force: true });
  } catch {
    // Already gone.
  }
});
