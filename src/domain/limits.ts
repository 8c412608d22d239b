/** Size limits of API v1. Every one is configurable; these are the documented defaults. */
export interface Limits {
  /** Largest request body, in bytes. @default 65536 */
  readonly bodyBytes: number;
  /** Most distinct lines in a cart. @default 200 */
  readonly cartLines: number;
  /** Largest quantity of one cart line. @default 999 */
  readonly maxQuantity: number;
  /** Longest SKU or product id, in characters. @default 128 */
  readonly idLength: number;
  /** Largest serialized preferences object, in bytes. @default 16384 */
  readonly prefsBytes: number;
  /** How many viewed products the history keeps (the newest). @default 100 */
  readonly historyItems: number;
  /** Largest serialized cart line attributes object, in bytes. @default 2048 */
  readonly attributesBytes: number;
  /** Most devices (live tokens) one session may hold. @default 50 */
  readonly devices: number;
}

export const DEFAULT_LIMITS: Limits = Object.freeze({
  bodyBytes: 64 * 1024,
  cartLines: 200,
  maxQuantity: 999,
  idLength: 128,
  prefsBytes: 16 * 1024,
  historyItems: 100,
  attributesBytes: 2048,
  devices: 50,
});
