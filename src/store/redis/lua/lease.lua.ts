/**
 * A lease (as `lease` in `src/store/session-store.ts`): KEYS: the lease's key;
 * ARGV: holder, ttlMs. Taken when free or held by the same holder; its
 * deadline is Redis's clock plus the ttl. Reply: 1 when held by the holder.
 */
export const LEASE_LUA = String.raw`
local held = redis.call('GET', KEYS[1])
if held and held ~= ARGV[1] then return 0 end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
return 1
`;

/** Gives a lease up: KEYS: the lease's key; ARGV: holder. Deleted only if the holder holds it. */
export const RELEASE_LUA = String.raw`
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
`;
