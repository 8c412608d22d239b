/**
 * The span attribute names Tessera records: OpenTelemetry's stable semantic
 * conventions (HTTP, database, error), and Tessera's own under `tessera.`.
 * Spelled out here rather than imported from @opentelemetry/semantic-conventions,
 * whose index takes longer to load than the rest of tracing: a test holds
 * each name to the package's constant.
 */
export const ATTR = {
  httpRequestMethod: 'http.request.method',
  httpRoute: 'http.route',
  httpResponseStatusCode: 'http.response.status_code',
  urlScheme: 'url.scheme',
  errorType: 'error.type',
  dbSystemName: 'db.system.name',
  dbOperationName: 'db.operation.name',
  dbStoredProcedureName: 'db.stored_procedure.name',
  /** sqlite, redis or redis-cluster. */
  storeEngine: 'tessera.store.engine',
  /** The Redis Cluster slot of the command's first key. */
  redisSlot: 'tessera.redis.slot',
  /** Fastify's request id, as the log lines name it (`reqId`). */
  requestId: 'tessera.request_id',
} as const;
