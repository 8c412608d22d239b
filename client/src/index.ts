/**
 * @tessera/client — the TypeScript SDK of Tessera API v1.
 * Middleware lives in `@tessera/client/express` and `@tessera/client/fastify`.
 */
export { TesseraClient } from './client.js';
export { DEFAULT_CLIENT_OPTIONS } from './client-options.js';
export type {
  TesseraClientOptions,
  RequestOptions,
  TokenOptions,
  WriteOptions,
  MinimalWriteOptions,
  Written,
  CreateSessionInput,
  GetSessionInput,
  CartItemInput,
  ViewInput,
  ClientOrigin,
} from './client-options.js';
export { DEFAULT_RETRY, backoffDelay } from './retry.js';
export type { RetryOptions } from './retry.js';
export {
  TesseraError,
  ValidationError,
  InvalidApiKeyError,
  InvalidTokenError,
  ForbiddenError,
  CsrfMismatchError,
  NotFoundError,
  VersionMismatchError,
  ConflictError,
  PayloadTooLargeError,
  UnsupportedMediaTypeError,
  RateLimitedError,
  UnavailableError,
  ConnectionError,
  TimeoutError,
  UnexpectedResponseError,
} from './errors.js';
export type { ErrorCode, ProblemCode, TransportCode } from './errors.js';
export { SESSION_PARTS } from './types.js';
export { verifyWebhook, WebhookVerificationError } from './webhooks.js';
export { withTraceContext, traceContextOf } from './trace-context.js';
export type { TraceContext } from './trace-context.js';
export type { VerifyWebhookOptions, WebhookHeaders } from './webhooks.js';
export type {
  SessionPart,
  SessionInfo,
  SessionView,
  PartShapes,
  Device,
  DeviceLabel,
  DeviceList,
  CartItem,
  Cart,
  Prefs,
  History,
  HistoryItem,
  Credentials,
  CsrfState,
  UserDevices,
  UserExport,
  ExportedDevice,
  Software,
  SessionEvent,
  SessionEventType,
  JsonValue,
  JsonObject,
} from './types.js';
