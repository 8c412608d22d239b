# syntax=docker/dockerfile:1
# Tessera's container image (docs/operations.md#container-image):
#   docker build -t tessera .
#   docker run -p 8080:8080 -e TESSERA_API_KEYS=storefront:<secret> tessera
# NODE_VERSION is a long-term-support release the test suite runs on (.ci/run).
ARG NODE_VERSION=26.12.1

# Build: the full image has python3, make and g++ for better-sqlite3's native
# addon. Compiles the TypeScript, then drops the dev dependencies, so the
# runtime stage copies a production node_modules built for the same Node.
FROM node:${NODE_VERSION}-trixie AS build
WORKDIR /app
COPY package.json package-lock.json ./
# Fixes to dependencies, applied by npm ci's postinstall (patch-package; docs/decisions.md, D95).
COPY patches ./patches
RUN npm ci --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
# The tessera command's admin subcommands reuse the SDK's tessera-admin (client/src/cli.ts).
COPY client/src ./client/src
RUN npm run build && npm prune --omit=dev --no-audit --no-fund

# Runtime: no compiler, no npm install, no dev dependencies, not root.
FROM node:${NODE_VERSION}-trixie-slim AS runtime
ENV NODE_ENV=production \
    TESSERA_HOST=0.0.0.0 \
    TESSERA_PORT=8080 \
    TESSERA_SQLITE_PATH=/var/lib/tessera/tessera.db
WORKDIR /app
COPY --from=build /app/package.json ./
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/dist/src ./dist/src
COPY --from=build /app/dist/client/src ./dist/client/src
# The embedded engine's file; mount a volume here to keep it across containers.
RUN mkdir -p /var/lib/tessera && chown 1000:1000 /var/lib/tessera
VOLUME ["/var/lib/tessera"]
# The official image's `node` user, by number, so Kubernetes' runAsNonRoot can verify it.
USER 1000:1000
EXPOSE 8080
HEALTHCHECK --interval=10s --timeout=3s --start-period=10s --retries=3 \
    CMD ["node", "dist/src/healthcheck.js"]
# SIGTERM starts the graceful shutdown (TESSERA_SHUTDOWN_DELAY, then drain).
STOPSIGNAL SIGTERM
CMD ["node", "dist/src/main.js"]
