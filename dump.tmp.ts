import { TESSERA_FUNCTIONS } from './src/store/redis/scripts.js';
process.stdout.write(TESSERA_FUNCTIONS.code);
