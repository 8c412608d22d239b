/**
 * Operations: what callers ask for, turned into change records.
 *
 * `applyOperation` is pure: given the current states of the part an operation
 * touches, it returns the change records (deltas that are states) or the
 * problem that forbids it. Stores run it, or its Lua twin, inside their atomic
 * section, so concurrent operations see each other's effects.
 */
import {
  liveLineCount,
  quantityOf,
  setLineQuantity,
  withAttributes,
  type CartLineState,
  type CartState,
} from './cart.js';
import {
  leastRecentlyActive,
  newDevice,
  revokeDevice,
  rotateDevice,
  type DeviceAuthOptions,
  type DeviceLabel,
  type DeviceState,
  type RevokeReason,
} from './devices.js';
import type { ProblemCode } from './errors.js';
import type { HistoryState } from './history.js';
import type { Hlc } from './hlc.js';
import type { Limits } from './limits.js';
import { ownValue } from './own.js';
import type { ChangeRecord, DataPart, PartStates } from './parts.js';
import { mergePrefs, patchRegisters, prefsSize, type JsonObject, type PrefsState } from './prefs.js';

export type Operation =
  | { readonly kind: 'cart.add'; readonly sku: string; readonly quantity: number; readonly attributes?: Record<string, unknown> }
  | { readonly kind: 'cart.set'; readonly sku: string; readonly quantity: number; readonly attributes?: Record<string, unknown> }
  | { readonly kind: 'cart.remove'; readonly sku: string }
  | { readonly kind: 'cart.clear' }
  | { readonly kind: 'prefs.patch'; readonly patch: JsonObject }
  | { readonly kind: 'history.add'; readonly productId: string; readonly viewedAt: number }
  | {
      readonly kind: 'device.add';
      readonly deviceId: string;
      readonly label: DeviceLabel;
      readonly hash: string;
      readonly auth?: DeviceAuthOptions;
      /** At the device limit: refuse the sign-in (the default), or end the least recently active device. */
      readonly atLimit?: DeviceLimitAction;
    }
  | {
      readonly kind: 'device.rotate';
      readonly deviceId: string;
      readonly hash: string;
      readonly graceMs: number;
      /** A re-authentication (step-up): the device's authentication time becomes now, its level this one. */
      readonly reauth?: { readonly authLevel?: string };
    }
  | { readonly kind: 'device.revoke'; readonly deviceId: string; readonly reason?: RevokeReason }
  | { readonly kind: 'session.end'; readonly reason?: RevokeReason };

/** What a sign-in does when the session already holds `limits.devices` live devices. */
export type DeviceLimitAction = 'refuse' | 'end-least-recent';

/** The versioned part each kind of operation changes. */
export function partOf(op: Operation): DataPart {
  switch (op.kind) {
    case 'cart.add':
    case 'cart.set':
    case 'cart.remove':
    case 'cart.clear':
      return 'cart';
    case 'prefs.patch':
      return 'prefs';
    case 'history.add':
      return 'history';
    default:
      return 'devices';
  }
}

export interface OperationContext {
  readonly sessionId: string;
  readonly now: number;
  readonly hlc: Hlc;
  /** This writer's name in per-writer CRDT state (the region). */
  readonly origin: string;
  readonly limits: Limits;
}

export type OperationOutcome =
  | { readonly ok: true; readonly records: readonly ChangeRecord[] }
  | { readonly ok: false; readonly code: ProblemCode; readonly detail: string };

function reject(code: ProblemCode, detail: string): OperationOutcome {
  return { ok: false, code, detail };
}

function record<P extends keyof PartStates>(ctx: OperationContext, part: P, state: PartStates[P]): ChangeRecord {
  return { sessionId: ctx.sessionId, part, state, hlc: ctx.hlc, origin: ctx.origin } as ChangeRecord;
}

export function applyOperation(
  current: PartStates,
  op: Operation,
  ctx: OperationContext,
): OperationOutcome {
  switch (op.kind) {
    case 'cart.add':
    case 'cart.set':
    case 'cart.remove':
      return cartLineOperation(current.cart, op, ctx);
    case 'cart.clear':
      return clearCart(current.cart, ctx);
    case 'prefs.patch':
      return patchPrefs(current.prefs, op.patch, ctx);
    case 'history.add':
      return ok(record(ctx, 'history', { items: { [op.productId]: op.viewedAt } } satisfies HistoryState));
    default:
      return deviceOperation(current, op, ctx);
  }
}

function ok(...records: ChangeRecord[]): OperationOutcome {
  return { ok: true, records };
}

function cartLineOperation(
  cart: CartState,
  op: Extract<Operation, { kind: 'cart.add' | 'cart.set' | 'cart.remove' }>,
  ctx: OperationContext,
): OperationOutcome {
  const line = ownValue(cart.lines, op.sku);
  const before = quantityOf(line);
  if (op.kind === 'cart.remove' && line === undefined) return ok();
  const target = op.kind === 'cart.add' ? before + op.quantity : op.kind === 'cart.set' ? op.quantity : 0;
  if (target > ctx.limits.maxQuantity) {
    return reject('validation-failed', `quantity of "${op.sku}" would be ${target}, above the limit of ${ctx.limits.maxQuantity}`);
  }
  if (before === 0 && target > 0 && liveLineCount(cart) >= ctx.limits.cartLines) {
    return reject('payload-too-large', `the cart already holds ${ctx.limits.cartLines} lines, the limit`);
  }
  let next: CartLineState = setLineQuantity(line, ctx.origin, target, ctx.now);
  if (line !== undefined && before === 0 && target > 0) next = { ...next, at: Math.min(next.at, ctx.now) };
  if (op.kind !== 'cart.remove') next = withAttributes(next, op.attributes, ctx.hlc);
  return ok(record(ctx, 'cart', { lines: { [op.sku]: next } }));
}

function clearCart(cart: CartState, ctx: OperationContext): OperationOutcome {
  const lines = Object.entries(cart.lines)
    .filter(([, line]) => quantityOf(line) > 0)
    .map(([sku, line]) => [sku, setLineQuantity(line, ctx.origin, 0, ctx.now)] as const);
  return lines.length === 0 ? ok() : ok(record(ctx, 'cart', { lines: Object.fromEntries(lines) }));
}

function patchPrefs(prefs: PrefsState, patch: JsonObject, ctx: OperationContext): OperationOutcome {
  const delta = patchRegisters(prefs, patch, ctx.hlc);
  const size = prefsSize(mergePrefs(prefs, delta));
  if (size > ctx.limits.prefsBytes) {
    return reject('payload-too-large', `preferences would take ${size} bytes, above the limit of ${ctx.limits.prefsBytes}`);
  }
  return ok(record(ctx, 'prefs', delta));
}

function deviceOperation(
  { devices, meta }: Pick<PartStates, 'devices' | 'meta'>,
  op: Extract<Operation, { kind: 'device.add' | 'device.rotate' | 'device.revoke' | 'session.end' }>,
  ctx: OperationContext,
): OperationOutcome {
  const changed = new Map<string, DeviceState>();
  const records: ChangeRecord[] = [];
  switch (op.kind) {
    case 'device.add': {
      const live = Object.values(devices.devices).filter((d) => d.revokedAt === undefined).length;
      if (live >= ctx.limits.devices) {
        if (op.atLimit !== 'end-least-recent') {
          return reject('payload-too-large', `the session already has ${ctx.limits.devices} signed-in devices, the limit`);
        }
        // As many as it takes to make room (more than one only when the limit was lowered).
        for (const id of leastRecentlyActive(devices, live - ctx.limits.devices + 1)) {
          changed.set(id, revokeDevice(devices.devices[id]!, ctx.now, 'limit'));
        }
      }
      changed.set(op.deviceId, newDevice(op.label, op.hash, ctx.now, ctx.hlc, op.auth));
      break;
    }
    case 'device.rotate':
    case 'device.revoke': {
      const device = ownValue(devices.devices, op.deviceId);
      if (device === undefined || device.revokedAt !== undefined) return reject('not-found', `no device "${op.deviceId}" in this session`);
      changed.set(
        op.deviceId,
        op.kind === 'device.rotate'
          ? rotateDevice(device, op.hash, ctx.now, op.graceMs, ctx.hlc, op.reauth)
          : revokeDevice(device, ctx.now, op.reason),
      );
      break;
    }
    case 'session.end':
      for (const [id, device] of Object.entries(devices.devices)) {
        if (device.revokedAt === undefined) changed.set(id, revokeDevice(device, ctx.now, op.reason));
      }
      // An ended session keeps no secret (the join would drop it anyway).
      records.push(record(ctx, 'meta', { ...meta, endedAt: meta.endedAt ?? ctx.now, csrfSecret: '' }));
      break;
  }
  return ok(record(ctx, 'devices', { devices: Object.fromEntries(changed) }), ...records);
}
