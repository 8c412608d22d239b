/** The storefront's products: a fixed catalogue, prices in euro cents. */

export interface Product {
  readonly id: string;
  readonly name: string;
  readonly blurb: string;
  readonly priceCents: number;
  /** Two colours of the product tile's gradient. */
  readonly colours: readonly [string, string];
  /** Drawing on the tile (a simple inline SVG shape). */
  readonly shape: 'mug' | 'tee' | 'bag' | 'shoe' | 'cap' | 'bottle' | 'lamp' | 'book';
}

export const PRODUCTS: readonly Product[] = [
  { id: 'mug-ceramic', name: 'Ceramic Mug', blurb: 'Hand-glazed stoneware, 350 ml.', priceCents: 1800, colours: ['#fde68a', '#f59e0b'], shape: 'mug' },
  { id: 'tee-organic', name: 'Organic Tee', blurb: 'Heavyweight cotton, relaxed fit.', priceCents: 2900, colours: ['#bfdbfe', '#3b82f6'], shape: 'tee' },
  { id: 'bag-canvas', name: 'Canvas Backpack', blurb: 'Waxed canvas, 20 litres, laptop sleeve.', priceCents: 8900, colours: ['#bbf7d0', '#16a34a'], shape: 'bag' },
  { id: 'shoe-runner', name: 'Trail Runner', blurb: 'Light, grippy, recycled mesh.', priceCents: 11900, colours: ['#fecaca', '#ef4444'], shape: 'shoe' },
  { id: 'cap-wool', name: 'Wool Cap', blurb: 'Merino blend, one size.', priceCents: 2400, colours: ['#ddd6fe', '#7c3aed'], shape: 'cap' },
  { id: 'bottle-steel', name: 'Steel Bottle', blurb: 'Keeps cold 24 h, hot 12 h.', priceCents: 3200, colours: ['#a5f3fc', '#0891b2'], shape: 'bottle' },
  { id: 'lamp-desk', name: 'Desk Lamp', blurb: 'Warm dimmable LED, oak base.', priceCents: 6400, colours: ['#fed7aa', '#ea580c'], shape: 'lamp' },
  { id: 'book-notes', name: 'Dot Notebook', blurb: 'A5, 160 pages, lay-flat binding.', priceCents: 1400, colours: ['#e5e7eb', '#4b5563'], shape: 'book' },
];

const BY_ID = new Map(PRODUCTS.map((p) => [p.id, p]));

export function findProduct(id: string): Product | undefined {
  return BY_ID.get(id);
}

export const CURRENCIES = {
  EUR: { symbol: '€', rate: 1 },
  USD: { symbol: '$', rate: 1.08 },
  GBP: { symbol: '£', rate: 0.85 },
} as const;

export type Currency = keyof typeof CURRENCIES;

export function isCurrency(value: unknown): value is Currency {
  return typeof value === 'string' && Object.hasOwn(CURRENCIES, value);
}

export function formatPrice(cents: number, currency: Currency): string {
  const { symbol, rate } = CURRENCIES[currency];
  return `${symbol}${((cents * rate) / 100).toFixed(2)}`;
}
