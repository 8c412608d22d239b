/**
 * Preferences: a JSON object whose top-level keys are last-writer-wins
 * registers stamped with a hybrid logical clock.
 *
 * A JSON merge patch (RFC 7396) is applied by its writer against the value it
 * sees; each top-level key it touches is then stamped and replicated as a whole.
 * A deleted key keeps a tombstone (`v: null`) so that a late, older write
 * cannot bring it back.
 *
 * Invariants: the join keeps, per key, the register with the larger stamp;
 * stamps are unique per write (the HLC carries its origin).
 */
import type { Hlc } from './hlc.js';
import { ownValue } from './own.js';

export type Json = null | boolean | number | string | Json[] | { [key: string]: Json };
export type JsonObject = { [key: string]: Json };

export interface PrefRegister {
  /** The value; `null` marks a deleted key. */
  readonly v: Json;
  readonly t: Hlc;
}

export interface PrefsState {
  readonly keys: Readonly<Record<string, PrefRegister>>;
}

export const EMPTY_PREFS: PrefsState = Object.freeze({ keys: Object.freeze({}) });

export function mergeRegister(x: PrefRegister, y: PrefRegister): PrefRegister {
  if (x.t !== y.t) return x.t > y.t ? x : y;
  return JSON.stringify(x.v) >= JSON.stringify(y.v) ? x : y;
}

export function mergePrefs(x: PrefsState, y: PrefsState): PrefsState {
  const keys = new Map<string, PrefRegister>(Object.entries(x.keys));
  for (const [key, register] of Object.entries(y.keys)) {
    const mine = keys.get(key);
    keys.set(key, mine ? mergeRegister(mine, register) : register);
  }
  return { keys: Object.fromEntries(keys) };
}

export function prefsObject(state: PrefsState): JsonObject {
  const live = Object.entries(state.keys)
    .filter(([, register]) => register.v !== null)
    .sort(([p], [q]) => (p < q ? -1 : p > q ? 1 : 0))
    .map(([key, register]) => [key, register.v] as const);
  return Object.fromEntries(live);
}

export function isJsonObject(value: unknown): value is JsonObject {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** RFC 7396 MergePatch(target, patch). */
export function applyMergePatch(target: Json | undefined, patch: Json): Json {
  if (!isJsonObject(patch)) return patch;
  const result = new Map<string, Json>(isJsonObject(target) ? Object.entries(target) : []);
  for (const [key, value] of Object.entries(patch)) {
    if (value === null) result.delete(key);
    else result.set(key, applyMergePatch(result.get(key), value));
  }
  return Object.fromEntries(result);
}

/** The registers a merge patch writes: one per top-level key it names. */
export function patchRegisters(state: PrefsState, patch: JsonObject, hlc: Hlc): PrefsState {
  const keys = Object.entries(patch).map(([key, value]): [string, PrefRegister] => {
    const current = ownValue(state.keys, key)?.v ?? undefined;
    const next = value === null ? null : applyMergePatch(current === null ? undefined : current, value);
    return [key, { v: next, t: hlc }];
  });
  return { keys: Object.fromEntries(keys) };
}

/** Bytes of the serialized preferences object, as the size limit counts them. */
export function prefsSize(state: PrefsState): number {
  return Buffer.byteLength(JSON.stringify(prefsObject(state)));
}
