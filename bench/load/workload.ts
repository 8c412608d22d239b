/**
 * The request mixes, as HTTP requests. Every target (Tessera, the Fastify
 * hello-world, express-session) gets byte-for-byte the same paths, bodies and
 * API key; only the end-user credential header differs (`Tessera-Token` vs the
 * `connect.sid` cookie).
 */
import { lineAttributes, productId, sku } from '../dataset/catalog.js';
import { CART_ADD_POOL, DEVICE_KINDS, cartAddProduct, productSampler } from '../dataset/generator.js';
import { Zipf, type Rng } from '../lib/rng.js';

export type Op = 'read' | 'cart-add' | 'history-append' | 'prefs-patch' | 'login';
export type OpClass = 'read' | 'write' | 'login';

export const OP_CLASS: Record<Op, OpClass> = {
  read: 'read',
  'cart-add': 'write',
  'history-append': 'write',
  'prefs-patch': 'write',
  login: 'login',
};

export interface MixEntry {
  readonly op: Op;
  readonly weight: number;
}

/** Scenario 1: 90 % validate + read cart and prefs, 5 % cart add, 3 % history append, 2 % prefs patch. */
export const READ_HEAVY_MIX: readonly MixEntry[] = [
  { op: 'read', weight: 90 },
  { op: 'cart-add', weight: 5 },
  { op: 'history-append', weight: 3 },
  { op: 'prefs-patch', weight: 2 },
];

/** Validate + read parts only: the hot path on its own. */
export const READ_ONLY_MIX: readonly MixEntry[] = [{ op: 'read', weight: 1 }];

/** The write part of the read-heavy mix on its own (same 5:3:2 proportions). */
export const MUTATION_MIX: readonly MixEntry[] = [
  { op: 'cart-add', weight: 5 },
  { op: 'history-append', weight: 3 },
  { op: 'prefs-patch', weight: 2 },
];

/** Scenario 2: sign-ins of new users, each creating a session. */
export const LOGIN_MIX: readonly MixEntry[] = [{ op: 'login', weight: 1 }];

export const MIX_LABEL: Record<MixName, string> = {
  reads: 'validate + read (GET /v1/session?parts=cart,prefs)',
  'read-heavy': 'read-heavy mix (90 % read, 5 % cart add, 3 % history, 2 % prefs)',
  mutations: 'mutations (cart add : history : prefs = 5 : 3 : 2)',
  login: 'login (POST /v1/sessions, new user)',
};

export type MixName = 'reads' | 'read-heavy' | 'mutations' | 'login';
export const MIXES: Record<MixName, readonly MixEntry[]> = {
  reads: READ_ONLY_MIX,
  'read-heavy': READ_HEAVY_MIX,
  mutations: MUTATION_MIX,
  login: LOGIN_MIX,
};

export interface WorkloadConfig {
  readonly mix: MixName;
  /** Bearer secret of the calling service. */
  readonly apiKey: string;
  /** Lower-case header that carries the end-user credential. */
  readonly credentialHeader: string;
  /** Header value per seeded session, by session index. */
  readonly credentials: readonly string[];
  /** Zipf exponent of session popularity. */
  readonly zipfS: number;
  /** Seed of the popularity permutation (same for every target). */
  readonly popularitySeed: number;
  /** Prefix of the user ids created by logins; unique per phase and worker. */
  readonly loginPrefix: string;
}

export interface RequestSpec {
  readonly op: Op;
  readonly method: 'GET' | 'POST' | 'PATCH';
  readonly path: string;
  readonly headers: Record<string, string>;
  readonly body?: string;
}

export const PREFS_PATCHES: readonly string[] = [
  '{"theme":"dark"}',
  '{"theme":"light"}',
  '{"currency":"EUR"}',
  '{"notifications":{"email":false}}',
  '{"notifications":{"push":true}}',
  '{"recentSearches":["trail running shoes","rain jacket"]}',
  '{"sizes":{"shoes":"43"}}',
  '{"marketingConsent":true}',
];

export const READ_PATH = '/v1/session?parts=cart,prefs';

export class WorkloadSampler {
  private readonly ops: Op[] = [];
  private readonly cumulative: number[] = [];
  private readonly sessions: Zipf | null;
  private readonly products = productSampler();
  private logins = 0;

  constructor(
    private readonly config: WorkloadConfig,
    private readonly rng: Rng,
    sessions?: Zipf,
  ) {
    let total = 0;
    for (const entry of MIXES[config.mix]) {
      total += entry.weight;
      this.ops.push(entry.op);
      this.cumulative.push(total);
    }
    for (let i = 0; i < this.cumulative.length; i++) this.cumulative[i]! /= total;
    const needsSessions = this.ops.some((op) => op !== 'login');
    this.sessions = !needsSessions
      ? null
      : (sessions ?? new Zipf(config.credentials.length, config.zipfS, config.popularitySeed));
  }

  next(): RequestSpec {
    const u = this.rng.next();
    let k = 0;
    while (k < this.cumulative.length - 1 && this.cumulative[k]! <= u) k++;
    return this.build(this.ops[k]!);
  }

  build(op: Op): RequestSpec {
    const { config, rng } = this;
    if (op === 'login') {
      const device = rng.pick(DEVICE_KINDS);
      return {
        op,
        method: 'POST',
        path: '/v1/sessions',
        headers: { authorization: `Bearer ${config.apiKey}`, 'content-type': 'application/json' },
        body: JSON.stringify({ userId: `${config.loginPrefix}-${this.logins++}`, device }),
      };
    }
    const index = this.sessions!.sample(rng);
    const headers: Record<string, string> = {
      authorization: `Bearer ${config.apiKey}`,
      [config.credentialHeader]: config.credentials[index]!,
    };
    switch (op) {
      case 'read':
        return { op, method: 'GET', path: READ_PATH, headers };
      case 'cart-add': {
        const n = cartAddProduct(index, rng.int(0, CART_ADD_POOL - 1));
        headers['content-type'] = 'application/json';
        return {
          op,
          method: 'POST',
          path: '/v1/session/cart/items',
          headers,
          body: JSON.stringify({ sku: sku(n), quantity: 1, attributes: lineAttributes(n, 'EUR') }),
        };
      }
      case 'history-append':
        headers['content-type'] = 'application/json';
        return {
          op,
          method: 'POST',
          path: '/v1/session/history',
          headers,
          body: JSON.stringify({ productId: productId(this.products.sample(rng)) }),
        };
      case 'prefs-patch':
        headers['content-type'] = 'application/merge-patch+json';
        return { op, method: 'PATCH', path: '/v1/session/prefs', headers, body: rng.pick(PREFS_PATCHES) };
    }
  }
}
