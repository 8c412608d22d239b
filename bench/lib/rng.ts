/**
 * Deterministic randomness for the benchmark: a seeded PRNG (so two runs, and
 * the seeder and the load generator, agree on the data) and a Zipf sampler for
 * session popularity.
 */

/** xoshiro128** with a splitmix32 seed — fast and seedable; for sampling, not crypto. */
export class Rng {
  private s0: number;
  private s1: number;
  private s2: number;
  private s3: number;

  constructor(seed: number) {
    // splitmix32 to spread a small seed over the whole state
    let x = seed >>> 0;
    const next = (): number => {
      x = (x + 0x9e3779b9) >>> 0;
      let z = x;
      z = Math.imul(z ^ (z >>> 16), 0x85ebca6b) >>> 0;
      z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35) >>> 0;
      return (z ^ (z >>> 16)) >>> 0;
    };
    this.s0 = next();
    this.s1 = next();
    this.s2 = next();
    this.s3 = next() | 1;
  }

  /** Uniform in [0, 1). xoshiro128** on 32-bit lanes. */
  next(): number {
    const result = Math.imul(rotl(Math.imul(this.s1, 5), 7), 9) >>> 0;
    const t = this.s1 << 9;
    this.s2 ^= this.s0;
    this.s3 ^= this.s1;
    this.s1 ^= this.s2;
    this.s0 ^= this.s3;
    this.s2 ^= t;
    this.s3 = rotl(this.s3, 11);
    return result / 4294967296;
  }

  /** Integer in [min, max], both inclusive. */
  int(min: number, max: number): number {
    return min + Math.floor(this.next() * (max - min + 1));
  }

  chance(p: number): boolean {
    return this.next() < p;
  }

  pick<T>(items: readonly T[]): T {
    const item = items[Math.floor(this.next() * items.length)];
    if (item === undefined) throw new Error('pick() from an empty list');
    return item;
  }

  /** Skewed towards min: geometric-like with the given mean, clamped. */
  skewed(min: number, max: number, mean: number): number {
    const u = Math.max(this.next(), 1e-12);
    const value = min + Math.floor(-Math.log(u) * (mean - min));
    return Math.min(max, value);
  }
}

function rotl(x: number, k: number): number {
  return ((x << k) | (x >>> (32 - k))) >>> 0;
}

/** A stable 32-bit hash of a few integers (FNV-1a over their bytes). */
export function hash32(...values: number[]): number {
  let h = 0x811c9dc5;
  for (const v of values) {
    for (let i = 0; i < 4; i++) {
      h ^= (v >>> (i * 8)) & 0xff;
      h = Math.imul(h, 0x01000193) >>> 0;
    }
  }
  return h >>> 0;
}

/**
 * Zipf(s) over n items: item of popularity rank r is drawn with probability
 * ∝ 1/r^s. Ranks are mapped to item indexes through a seeded permutation so the
 * hot items are scattered over the data set rather than being the first seeded.
 * s = 0.99 is YCSB's default: the hottest of 100 k sessions gets ~8 % of requests.
 */
export class Zipf {
  private readonly cdf: Float64Array;
  private readonly indexOfRank: Uint32Array;

  constructor(readonly n: number, readonly s: number, seed: number) {
    if (n < 1) throw new Error('Zipf needs at least one item');
    this.cdf = new Float64Array(n);
    let total = 0;
    for (let r = 1; r <= n; r++) {
      total += 1 / Math.pow(r, s);
      this.cdf[r - 1] = total;
    }
    for (let i = 0; i < n; i++) this.cdf[i]! /= total;
    this.indexOfRank = new Uint32Array(n);
    for (let i = 0; i < n; i++) this.indexOfRank[i] = i;
    const rng = new Rng(seed ^ 0x5eed);
    for (let i = n - 1; i > 0; i--) {
      const j = Math.floor(rng.next() * (i + 1));
      const t = this.indexOfRank[i]!;
      this.indexOfRank[i] = this.indexOfRank[j]!;
      this.indexOfRank[j] = t;
    }
  }

  /** An item index in [0, n). */
  sample(rng: Rng): number {
    const u = rng.next();
    let lo = 0;
    let hi = this.n - 1;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.cdf[mid]! < u) lo = mid + 1;
      else hi = mid;
    }
    return this.indexOfRank[lo]!;
  }

  /** Probability of the hottest item (for the report). */
  get hottestShare(): number {
    return this.cdf[0]!;
  }
}
