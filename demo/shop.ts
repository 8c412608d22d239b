/**
 * The storefront: an Express app that keeps all visitor state in Tessera,
 * reached only through the SDK and its session middleware. (A real app imports
 * `@tessera/client` and `@tessera/client/express`; the demo uses the sources.)
 */
import express, { type NextFunction, type Request, type Response } from 'express';
import { TesseraError, type TesseraClient } from '../client/src/index.js';
import { CsrfRefusedError, ReauthenticationRequiredError, requireFreshAuth, tesseraSession } from '../client/src/express.js';
import { PRODUCTS, findProduct, isCurrency, type Currency } from './catalog.js';
import { STYLES } from './styles.js';
import * as views from './views.js';

export interface ShopOptions {
  readonly client: TesseraClient;
  /** Serve over plain HTTP on a host other than localhost (cookie without Secure). @default true */
  readonly secureCookie?: boolean;
  /** Signing out other devices needs a sign-in (or confirmation) this recent, in seconds. @default 600 */
  readonly freshAuthSeconds?: number;
}

const USER_ID = /^[A-Za-z0-9._@-]{1,64}$/;

export function createShop(options: ShopOptions): express.Express {
  const app = express();
  app.disable('x-powered-by');
  app.get('/styles.css', (_req, res) => {
    res.type('text/css').set('cache-control', 'public, max-age=300').send(STYLES);
  });
  app.get('/favicon.ico', (_req, res) => {
    res.status(204).end();
  });
  app.use(express.urlencoded({ extended: false, limit: '8kb' }));
  app.use(
    tesseraSession({
      client: options.client,
      secure: options.secureCookie ?? true,
      // The device list is read only where it is shown.
      parts: (req) => (req.path.startsWith('/account') ? ['cart', 'prefs', 'history', 'devices'] : ['cart', 'prefs', 'history']),
    }),
  );

  // Every page carries forms, so every page needs a session (and its CSRF token).
  const page = (handler: (req: Request, res: Response) => Promise<void>) => async (req: Request, res: Response) => {
    await req.tessera.ensure();
    await handler(req, res);
  };

  app.get('/', page(async (req, res) => {
    res.send(views.homePage(context(req, 'Shop')));
  }));

  app.get('/products/:id', page(async (req, res) => {
    const product = findProduct(String(req.params.id));
    if (!product) {
      res.status(404).send(views.errorPage(context(req, 'Not found'), 'Not found', 'No such product.'));
      return;
    }
    await req.tessera.recordView(product.id);
    res.send(views.productPage(context(req, product.name), product));
  }));

  app.get('/cart', page(async (req, res) => {
    res.send(views.cartPage(context(req, 'Cart', flashOf(req)), req.tessera.cart?.items ?? []));
  }));

  app.post('/cart/add', async (req, res) => {
    const product = findProduct(String(req.body.sku ?? ''));
    if (!product) {
      res.status(400).send('unknown product');
      return;
    }
    const cart = await req.tessera.addToCart(product.id, 1);
    if (req.accepts(['html', 'json']) === 'json') {
      res.json({ count: count(cart.items), name: product.name });
    } else {
      res.redirect(303, '/cart?added=' + encodeURIComponent(product.id));
    }
  });

  app.post('/cart/set', async (req, res) => {
    const quantity = Number(req.body.quantity);
    const sku = String(req.body.sku ?? '');
    if (Number.isInteger(quantity) && quantity >= 1 && quantity <= 999 && findProduct(sku)) {
      await req.tessera.setQuantity(sku, quantity);
    }
    res.redirect(303, '/cart');
  });

  app.post('/cart/remove', async (req, res) => {
    await req.tessera.removeFromCart(String(req.body.sku ?? ''));
    res.redirect(303, '/cart');
  });

  app.post('/cart/clear', async (req, res) => {
    await req.tessera.clearCart();
    res.redirect(303, '/cart');
  });

  app.post('/prefs', async (req, res) => {
    if (isCurrency(req.body.currency)) await req.tessera.patchPrefs({ currency: req.body.currency });
    res.redirect(303, safeBack(req));
  });

  app.get('/signin', page(async (req, res) => {
    if (!req.tessera.isGuest) {
      res.redirect(303, '/');
      return;
    }
    res.send(views.signInPage(context(req, 'Sign in')));
  }));

  app.post('/signin', async (req, res) => {
    const userId = String(req.body.userId ?? '').trim();
    if (!USER_ID.test(userId)) {
      res.status(400).send(views.signInPage(context(req, 'Sign in', { kind: 'error', text: 'Use letters, digits, and . _ @ - (up to 64).' })));
      return;
    }
    // "Remember me" unticked: a cookie that ends with the browser, and a shorter sign-in at Tessera.
    await req.tessera.signIn(userId, undefined, { persistent: req.body.remember === 'yes' });
    res.redirect(303, '/?welcome=1');
  });

  app.post('/signout', async (req, res) => {
    await req.tessera.logout();
    res.redirect(303, '/');
  });

  app.get('/account/devices', page(async (req, res) => {
    if (req.tessera.isGuest) {
      res.redirect(303, '/signin');
      return;
    }
    res.send(views.devicesPage(context(req, 'My devices', flashOf(req)), await req.tessera.devices()));
  }));

  app.post('/account/devices/revoke', async (req, res) => {
    await req.tessera.revokeDevice(String(req.body.deviceId ?? ''));
    res.redirect(303, req.tessera.exists ? '/account/devices?revoked=1' : '/');
  });

  // A sensitive change: only right after signing in, or after confirming it is you (step-up).
  app.post('/account/signout-others', requireFreshAuth(options.freshAuthSeconds ?? 600), async (req, res) => {
    await req.tessera.logoutOtherDevices();
    res.redirect(303, '/account/devices?others=1');
  });

  app.get('/account/confirm', page(async (req, res) => {
    if (req.tessera.isGuest) {
      res.redirect(303, '/signin');
      return;
    }
    res.send(views.confirmPage(context(req, 'Confirm it’s you'), localPath(String(req.query.next ?? '/account/devices'))));
  }));

  app.post('/account/confirm', async (req, res) => {
    await req.tessera.reauthenticate();
    res.redirect(303, localPath(String(req.body.next ?? '/account/devices')) + '?confirmed=1');
  });

  app.post('/account/signout-everywhere', async (req, res) => {
    await req.tessera.logoutEverywhere();
    res.redirect(303, '/');
  });

  app.use((req: Request, res: Response) => {
    res.status(404).send(views.errorPage(context(req, 'Not found'), 'Not found', 'There is nothing at this address.'));
  });

  app.use((error: unknown, req: Request, res: Response, _next: NextFunction) => {
    if (error instanceof CsrfRefusedError) {
      res.status(403).send(views.errorPage(context(req, 'Request refused'), 'Request refused', error.message));
      return;
    }
    if (error instanceof ReauthenticationRequiredError) {
      res.redirect(303, error.reason === 'signed-out' ? '/signin' : '/account/confirm?next=/account/devices');
      return;
    }
    const detail = error instanceof TesseraError ? `${error.code}: ${error.detail}` : 'Something went wrong.';
    if (!(error instanceof TesseraError)) console.error(error);
    res.status(error instanceof TesseraError && error.code === 'unavailable' ? 503 : 500)
      .send(views.errorPage(context(req, 'Error'), 'Sorry, that did not work', detail));
  });
  return app;
}

function count(items: readonly { quantity: number }[]): number {
  return items.reduce((sum, item) => sum + item.quantity, 0);
}

function flashOf(req: Request): views.PageContext['flash'] {
  if (req.query.added) {
    const product = findProduct(String(req.query.added));
    return product ? { kind: 'ok', text: `${product.name} added to your cart.` } : undefined;
  }
  if (req.query.revoked) return { kind: 'ok', text: 'That device is signed out.' };
  if (req.query.others) return { kind: 'ok', text: 'Your other devices are signed out.' };
  if (req.query.confirmed) return { kind: 'ok', text: 'Thanks — confirmed. Try again now.' };
  return undefined;
}

/** A path on this site (never another origin), for redirects back. */
function localPath(path: string): string {
  return /^\/(?!\/)[A-Za-z0-9/_-]*$/.test(path) ? path : '/account/devices';
}

function safeBack(req: Request): string {
  const referer = req.get('referer');
  if (!referer) return '/';
  try {
    const url = new URL(referer);
    return url.host === req.host ? url.pathname + url.search : '/';
  } catch {
    return '/';
  }
}

function context(req: Request, title: string, flash?: views.PageContext['flash']): views.PageContext {
  const session = req.tessera as typeof req.tessera | undefined; // absent when the middleware itself failed
  const currency = session?.prefs?.currency;
  const welcome = req.query.welcome && session?.userId ? { kind: 'ok' as const, text: `Welcome, ${session.userId}! Your cart came with you.` } : undefined;
  return {
    title,
    userId: session?.userId ?? null,
    signedIn: Boolean(session?.userId),
    cartCount: count(session?.cart?.items ?? []),
    csrfToken: session?.csrfToken ?? '',
    currency: isCurrency(currency) ? currency : ('EUR' satisfies Currency),
    flash: flash ?? welcome,
    history: session?.history?.items ?? [],
  };
}

export { PRODUCTS };
