import type { Limits } from '../../domain/limits.js';
import type { SessionService } from '../../service/session-service.js';
import type { ApiKeyRing } from '../../tokens/api-keys.js';

/** What route modules are built with. */
export interface RouteContext {
  readonly service: SessionService;
  readonly limits: Limits;
  readonly keys: ApiKeyRing;
}

export const TOKEN_SECURITY = [{ apiKey: [], sessionToken: [] }];
export const ADMIN_SECURITY = [{ apiKey: [] }];
