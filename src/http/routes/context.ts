import type { Limits } from '../../domain/limits.js';
import type { SessionService } from '../../service/session-service.js';
import type { ApiKeyRing } from '../../tokens/api-keys.js';

/** What route modules are built with. */
export interface RouteContext {
  readonly service: SessionService;
  readonly limits: Limits;
  readonly keys: ApiKeyRing;
}

/** OpenAPI security requirements; for an `http` scheme the list names the roles (here: API key scopes) needed. */
export const TOKEN_SECURITY = [{ apiKey: ['token'], sessionToken: [] }];
export const ADMIN_SECURITY = [{ apiKey: ['users'] }];
/** `POST /v1/sessions`: `sign-in` with a userId, `token` for a guest session. */
export const SIGN_IN_SECURITY = [{ apiKey: ['sign-in'] }, { apiKey: ['token'] }];
