/** The Redis Cluster slot of a key (the store's own implementation); tests use it to place sessions in the slots they move. */
export { keySlot } from '../../src/store/redis/slots.js';
