/**
 * Realistic session contents, generated deterministically from (seed, index).
 *
 * Shape (the public API shape, which the express-session baseline stores as is):
 * a cart of 1–20 lines with storefront attributes, preferences (locale,
 * currency, saved addresses, recent searches…), up to 100 viewed products and
 * 1–3 devices. The serialized size is drawn log-uniformly from 2–8 KiB; the
 * history is what fills a session up to its drawn size, as on a real site where
 * browsing dominates a session's volume.
 */
import { CATALOG_SIZE, lineAttributes, pickCurrency, productId, sku } from './catalog.js';
import { Rng, Zipf, hash32 } from '../lib/rng.js';

export interface CartLineSpec {
  readonly sku: string;
  readonly quantity: number;
  readonly attributes: Record<string, unknown>;
}

export interface HistorySpec {
  readonly productId: string;
  /** ISO time, newest first in the list. */
  readonly viewedAt: string;
}

export interface DeviceSpec {
  readonly name: string;
  readonly kind: string;
  readonly userAgent: string;
  readonly ip: string;
}

export interface SessionSpec {
  readonly index: number;
  readonly userId: string;
  readonly devices: readonly DeviceSpec[];
  readonly cart: readonly CartLineSpec[];
  readonly prefs: Record<string, unknown>;
  readonly history: readonly HistorySpec[];
  /** Serialized size of cart + prefs + history + devices in the public JSON shape. */
  readonly bytes: number;
}

export const MIN_SESSION_BYTES = 2 * 1024;
export const MAX_SESSION_BYTES = 8 * 1024;
export const MAX_CART_LINES = 20;
export const MAX_HISTORY = 100;

export const DEVICE_KINDS: readonly DeviceSpec[] = [
  { name: 'iPhone 15', kind: 'mobile', userAgent: 'ShopApp/8.14.2 (iPhone16,2; iOS 18.1)', ip: '203.0.113.24' },
  { name: 'Pixel 8', kind: 'mobile', userAgent: 'ShopApp/8.14.1 (Pixel 8; Android 15)', ip: '198.51.100.77' },
  { name: 'Chrome on Windows', kind: 'desktop', userAgent: 'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0 Safari/537.36', ip: '192.0.2.14' },
  { name: 'Safari on macOS', kind: 'desktop', userAgent: 'Mozilla/5.0 (Macintosh; Intel Mac OS X 14_6) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.0 Safari/605.1.15', ip: '192.0.2.201' },
  { name: 'iPad', kind: 'tablet', userAgent: 'ShopApp/8.13.0 (iPad13,4; iPadOS 17.6)', ip: '203.0.113.90' },
];
const LOCALES = ['en-GB', 'de-DE', 'fr-FR', 'en-US', 'ja-JP', 'sv-SE', 'es-ES', 'it-IT'];
const SEARCHES = ['running shoes', 'wireless earbuds', 'rain jacket men', 'yoga mat thick', 'coffee grinder burr', 'office chair ergonomic', 'wool sweater', 'desk lamp led', 'kids backpack', 'chef knife set'];
const CITIES = ['Berlin', 'Lyon', 'Leeds', 'Osaka', 'Malmö', 'Austin', 'Porto', 'Turin'];

/** Product popularity for history and cart adds (shared by all sessions). */
let productZipf: Zipf | undefined;
export function productSampler(): Zipf {
  productZipf ??= new Zipf(CATALOG_SIZE, 0.9, 424242);
  return productZipf;
}

/** `now` anchors the history times (they must not lie in the future); contents do not depend on it. */
export function generateSession(seed: number, index: number, now: number = Date.now()): SessionSpec {
  const rng = new Rng(hash32(seed, index, 0x5e55));
  const products = productSampler();
  const target = Math.round(MIN_SESSION_BYTES * Math.pow(MAX_SESSION_BYTES / MIN_SESSION_BYTES, rng.next()));
  const currency = pickCurrency(rng);

  const deviceCount = rng.chance(0.5) ? 1 : rng.chance(0.7) ? 2 : 3;
  const devices: DeviceSpec[] = [];
  for (let d = 0; d < deviceCount; d++) devices.push(rng.pick(DEVICE_KINDS));

  const cart: CartLineSpec[] = [];
  const lines = Math.max(1, rng.skewed(1, MAX_CART_LINES, 6));
  const seen = new Set<string>();
  while (cart.length < lines) {
    const n = products.sample(rng);
    const s = sku(n);
    if (seen.has(s)) continue;
    seen.add(s);
    cart.push({ sku: s, quantity: rng.chance(0.8) ? 1 : rng.int(2, 4), attributes: lineAttributes(n, currency) });
  }

  const prefs: Record<string, unknown> = {
    locale: rng.pick(LOCALES),
    currency,
    theme: rng.chance(0.3) ? 'dark' : 'light',
    notifications: { email: rng.chance(0.6), push: rng.chance(0.4), sms: false },
    marketingConsent: rng.chance(0.5),
  };
  const addresses = rng.int(0, 3);
  if (addresses > 0) {
    prefs['savedAddresses'] = Array.from({ length: addresses }, (_, k) => ({
      label: k === 0 ? 'home' : k === 1 ? 'work' : `address ${k + 1}`,
      line1: `${rng.int(1, 240)} ${rng.pick(['Station', 'Mill', 'Harbour', 'Linden', 'Church'])} Road`,
      city: rng.pick(CITIES),
      postcode: String(rng.int(10000, 99999)),
      country: rng.pick(['DE', 'FR', 'GB', 'US', 'JP', 'SE']),
    }));
  }
  const searches = rng.int(0, 8);
  if (searches > 0) prefs['recentSearches'] = Array.from({ length: searches }, () => rng.pick(SEARCHES));
  if (rng.chance(0.4)) prefs['sizes'] = { shoes: String(rng.int(36, 46)), tops: rng.pick(['S', 'M', 'L', 'XL']) };

  const history: HistorySpec[] = [];
  const base = { cart: { items: cart }, prefs, devices, history: { items: history } };
  let bytes = JSON.stringify(base).length;
  const viewed = new Set<string>();
  let t = now - rng.int(60_000, 3_600_000);
  while (history.length < MAX_HISTORY && bytes < target) {
    const p = productId(products.sample(rng));
    if (viewed.has(p)) continue;
    viewed.add(p);
    const entry = { productId: p, viewedAt: new Date(t).toISOString() };
    history.push(entry);
    bytes += JSON.stringify(entry).length + 1;
    t -= rng.int(5_000, 900_000);
  }
  return { index, userId: `u-${seed.toString(36)}-${index}`, devices, cart, prefs, history, bytes };
}

/**
 * Products a session adds to its cart during the run: a small per-session pool,
 * so a hot session's cart stays within the 200-line limit however long the run.
 */
export const CART_ADD_POOL = 12;
export function cartAddProduct(sessionIndex: number, k: number): number {
  return hash32(sessionIndex, k % CART_ADD_POOL, 0xca47) % CATALOG_SIZE;
}
