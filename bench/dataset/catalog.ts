/**
 * A synthetic product catalog: product ids, SKUs and the attributes a storefront
 * copies into a cart line (title, price, size, colour, image). Everything is a
 * pure function of a product number, so the seeder and the load generator agree
 * without sharing state.
 */
import { hash32, type Rng } from '../lib/rng.js';

export const CATALOG_SIZE = 250_000;

const ADJECTIVES = ['Classic', 'Slim', 'Relaxed', 'Organic', 'Trail', 'Urban', 'Thermal', 'Lightweight', 'Premium', 'Everyday', 'Waterproof', 'Vintage'];
const NOUNS = ['Running Shoe', 'Hoodie', 'Denim Jacket', 'Backpack', 'Wireless Earbuds', 'Coffee Grinder', 'Desk Lamp', 'Yoga Mat', 'Chef Knife', 'Rain Jacket', 'Wool Sweater', 'Smart Watch', 'Water Bottle', 'Office Chair'];
const BRANDS = ['Northpeak', 'Avalon', 'Kestrel', 'Mireille', 'Stonebridge', 'Orbit', 'Halden', 'Lumen'];
const SIZES = ['XS', 'S', 'M', 'L', 'XL', 'XXL', '38', '40', '42', '44', 'one-size'];
const COLOURS = ['black', 'navy', 'forest', 'sand', 'charcoal', 'crimson', 'white', 'sky'];
const CURRENCIES = ['EUR', 'USD', 'GBP', 'JPY', 'SEK'];

export function productId(n: number): string {
  return `P${String(n % CATALOG_SIZE).padStart(7, '0')}`;
}

export function sku(n: number): string {
  const h = hash32(n, 7);
  return `SKU-${String(n % CATALOG_SIZE).padStart(7, '0')}-${SIZES[h % SIZES.length]}-${COLOURS[(h >>> 8) % COLOURS.length]}`;
}

/** What a storefront typically snapshots into a cart line (~200–300 bytes of JSON). */
export function lineAttributes(n: number, currency: string): Record<string, unknown> {
  const h = hash32(n, 11);
  const v = hash32(n, 7); // the variant, as in sku()
  const brand = BRANDS[h % BRANDS.length]!;
  const title = `${brand} ${ADJECTIVES[(h >>> 4) % ADJECTIVES.length]} ${NOUNS[(h >>> 9) % NOUNS.length]}`;
  return {
    title,
    brand,
    priceMinor: 499 + (h % 40_000),
    currency,
    size: SIZES[v % SIZES.length],
    colour: COLOURS[(v >>> 8) % COLOURS.length],
    image: `https://img.example-shop.com/p/${String(n % CATALOG_SIZE).padStart(7, '0')}/${(h >>> 3) % 6}.webp`,
    seller: `S${(h >>> 12) % 5000}`,
  };
}

export function pickCurrency(rng: Rng): string {
  return rng.pick(CURRENCIES);
}
