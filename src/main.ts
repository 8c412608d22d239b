/** `npm start` and the container image: runs Tessera as a process (`serve.ts`). */
import { runService } from './serve.js';

runService();
