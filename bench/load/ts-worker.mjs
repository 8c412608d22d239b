// Bootstrap for worker threads: Node 20 workers do not inherit tsx's loader
// hooks, so register them here, then load the TypeScript entry named in workerData.
import { workerData } from 'node:worker_threads';
import { register } from 'tsx/esm/api';

register();
await import(workerData.entry);
