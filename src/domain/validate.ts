/**
 * The input limits of an operation, checked in one place before it reaches a
 * store: ids, quantities, attribute and preference sizes. (What depends on the
 * stored state — a full cart, preferences over their byte limit, too many
 * devices — is checked where the state is, by `applyOperation` and its Lua
 * twin, inside the store's atomic step.) The HTTP schemas declare the same
 * bounds for the OpenAPI document; this is what holds every caller to them.
 */
import type { ProblemCode } from './errors.js';
import type { Limits } from './limits.js';
import type { Operation } from './operations.js';

/** Printable ASCII, no leading or trailing space: SKUs, product ids. */
export const PRINTABLE_ID = /^[\x21-\x7E](?:[\x20-\x7E]*[\x21-\x7E])?$/;
/** Most keys of a cart line's attributes. */
export const MAX_ATTRIBUTE_KEYS = 32;
/** Most top-level keys one preferences patch may name. */
export const MAX_PATCH_KEYS = 256;

export interface Invalid {
  readonly code: ProblemCode;
  readonly detail: string;
}

function id(what: string, value: string, limits: Limits): Invalid | null {
  if (value.length < 1 || value.length > limits.idLength || !PRINTABLE_ID.test(value)) {
    return { code: 'validation-failed', detail: `${what} must be 1-${limits.idLength} printable characters without leading or trailing spaces` };
  }
  return null;
}

function quantity(value: number, min: number, limits: Limits): Invalid | null {
  if (!Number.isInteger(value) || value < min || value > limits.maxQuantity) {
    return { code: 'validation-failed', detail: `quantity must be an integer from ${min} to ${limits.maxQuantity}` };
  }
  return null;
}

function attributes(value: Record<string, unknown> | undefined, limits: Limits): Invalid | null {
  if (value === undefined) return null;
  if (Object.keys(value).length > MAX_ATTRIBUTE_KEYS) {
    return { code: 'validation-failed', detail: `attributes may have at most ${MAX_ATTRIBUTE_KEYS} keys` };
  }
  if (Buffer.byteLength(JSON.stringify(value)) > limits.attributesBytes) {
    return { code: 'payload-too-large', detail: `attributes take more than ${limits.attributesBytes} bytes` };
  }
  return null;
}

/** The first limit the operation breaks, or null. */
export function validateOperation(op: Operation, limits: Limits): Invalid | null {
  switch (op.kind) {
    case 'cart.add':
      return id('sku', op.sku, limits) ?? quantity(op.quantity, 1, limits) ?? attributes(op.attributes, limits);
    case 'cart.set':
      return id('sku', op.sku, limits) ?? quantity(op.quantity, 0, limits) ?? attributes(op.attributes, limits);
    case 'cart.remove':
      return id('sku', op.sku, limits);
    case 'history.add':
      return id('productId', op.productId, limits);
    case 'prefs.patch': {
      const keys = Object.keys(op.patch);
      if (keys.length > MAX_PATCH_KEYS) return { code: 'validation-failed', detail: `a patch may name at most ${MAX_PATCH_KEYS} keys` };
      const long = keys.find((key) => key.length < 1 || key.length > limits.idLength);
      return long === undefined ? null : { code: 'validation-failed', detail: `preference keys must be 1-${limits.idLength} characters` };
    }
    default:
      return null;
  }
}
