/** Simple inline SVG drawings for product tiles (no image files to serve). */
import type { Product } from './catalog.js';

const SHAPES: Record<Product['shape'], string> = {
  mug: '<rect x="24" y="30" width="40" height="46" rx="6"/><path d="M64 40h6a10 10 0 0 1 0 20h-6" fill="none" stroke-width="6"/><path d="M34 20c0-6 6-6 6-12M46 20c0-6 6-6 6-12" fill="none" stroke-width="3"/>',
  tee: '<path d="M36 18 22 24 12 40l12 7 6-9v44h40V38l6 9 12-7-10-16-14-6c-2 6-8 10-14 10s-12-4-14-10z"/>',
  bag: '<path d="M38 26v-6a12 12 0 0 1 24 0v6" fill="none" stroke-width="6"/><rect x="22" y="26" width="56" height="58" rx="12"/><rect x="34" y="56" width="32" height="16" rx="4" fill-opacity=".35" fill="#000"/>',
  shoe: '<path d="M14 62c0-10 4-24 10-28 6 2 10 8 20 10 12 2 22 6 32 12 8 4 12 8 12 12v6H14z"/><rect x="14" y="70" width="74" height="8" rx="3" fill-opacity=".35" fill="#000"/>',
  cap: '<path d="M18 62a32 32 0 0 1 64 0z"/><path d="M50 62h40c0 6-6 8-14 8H50z" fill-opacity=".7"/><circle cx="50" cy="28" r="4"/>',
  bottle: '<rect x="42" y="12" width="16" height="10" rx="3"/><path d="M40 22h20v8c6 4 8 8 8 14v36a8 8 0 0 1-8 8H40a8 8 0 0 1-8-8V44c0-6 2-10 8-14z"/><rect x="32" y="50" width="36" height="14" fill-opacity=".3" fill="#000"/>',
  lamp: '<path d="M30 18h28l10 24H20z"/><path d="M44 42 56 70" fill="none" stroke-width="5"/><rect x="34" y="70" width="40" height="10" rx="4"/>',
  book: '<rect x="24" y="14" width="52" height="72" rx="5"/><rect x="30" y="14" width="5" height="72" fill-opacity=".35" fill="#000"/><g fill-opacity=".45" fill="#000"><circle cx="48" cy="34" r="2"/><circle cx="58" cy="34" r="2"/><circle cx="68" cy="34" r="2"/><circle cx="48" cy="44" r="2"/><circle cx="58" cy="44" r="2"/><circle cx="68" cy="44" r="2"/></g>',
};

export function productArt(product: Product, size: 'tile' | 'thumb' | 'hero' = 'tile'): string {
  const [from, to] = product.colours;
  return `<div class="art art-${size}" style="background: linear-gradient(135deg, ${from}, ${to})" aria-hidden="true">` +
    `<svg viewBox="0 0 100 100" fill="#fff" stroke="#fff">${SHAPES[product.shape]}</svg></div>`;
}
