/**
 * The parts of a session and the change record that carries any of them.
 *
 * Every mutation produces change records; a store applies a record by joining
 * its state into the stored one, so a record applied twice, late or out of
 * order changes nothing. Replication (global mode) ships the same records.
 */
import { EMPTY_CART, mergeCart, type CartState } from './cart.js';
import { EMPTY_DEVICES, mergeDevices, type DevicesState } from './devices.js';
import { EMPTY_HISTORY, mergeHistory, type HistoryState } from './history.js';
import type { Hlc } from './hlc.js';
import { EMPTY_PREFS, mergePrefs, type PrefsState } from './prefs.js';
import { mergeMeta, type SessionMeta } from './session.js';

export interface PartStates {
  readonly meta: SessionMeta;
  readonly devices: DevicesState;
  readonly cart: CartState;
  readonly prefs: PrefsState;
  readonly history: HistoryState;
}

export type PartName = keyof PartStates;
/** Parts a caller can read and version; `meta` is internal. */
export type DataPart = Exclude<PartName, 'meta'>;

export const DATA_PARTS: readonly DataPart[] = ['cart', 'prefs', 'history', 'devices'];

export const EMPTY_PARTS: Omit<PartStates, 'meta'> = {
  devices: EMPTY_DEVICES,
  cart: EMPTY_CART,
  prefs: EMPTY_PREFS,
  history: EMPTY_HISTORY,
};

export type ChangeRecord = {
  [P in PartName]: {
    readonly sessionId: string;
    readonly part: P;
    /** The part's new state, or a delta that is itself a state. */
    readonly state: PartStates[P];
    readonly hlc: Hlc;
    /** Region (or process) that made the change. */
    readonly origin: string;
  };
}[PartName];

/**
 * One committed change of one session: the records of one operation, one
 * activity slide, one creation or one local merge, all stamped alike. It is
 * the unit of a store's change feed and of replication; `changeId` names it
 * uniquely (a session's stamps only grow, and carry the issuing node).
 */
export interface Change {
  readonly sessionId: string;
  readonly hlc: Hlc;
  /** The region that made the change. */
  readonly origin: string;
  readonly records: readonly ChangeRecord[];
  /** For an auth change ordered by the owner of its session's home (global mode): that ownership's epoch. */
  readonly epoch?: number;
}

export function changeId(change: Pick<Change, 'sessionId' | 'hlc'>): string {
  return `${change.sessionId}/${change.hlc}`;
}

/** Join of two states of one part. `historyLimit` bounds the history part. */
export function mergePart<P extends PartName>(
  part: P,
  x: PartStates[P],
  y: PartStates[P],
  historyLimit: number,
): PartStates[P] {
  // The casts restate what `part` already proves; TypeScript does not narrow P through it.
  switch (part) {
    case 'meta':
      return mergeMeta(x as SessionMeta, y as SessionMeta) as PartStates[P];
    case 'devices':
      return mergeDevices(x as DevicesState, y as DevicesState) as PartStates[P];
    case 'cart':
      return mergeCart(x as CartState, y as CartState) as PartStates[P];
    case 'prefs':
      return mergePrefs(x as PrefsState, y as PrefsState) as PartStates[P];
    case 'history':
      return mergeHistory(x as HistoryState, y as HistoryState, historyLimit) as PartStates[P];
    default:
      throw new TypeError(`unknown session part "${String(part)}"`);
  }
}
