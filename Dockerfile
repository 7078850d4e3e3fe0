# syntax=docker/dockerfile:1
# One image for every service; docker-compose.yml picks the app with `command: node apps/<app>/dist/main.js`.

ARG NODE_IMAGE=node:20-bookworm-slim

# --- manifests: only the package.json files and the lockfile, so `npm ci` below stays cached while
#     sources change. Picks up new workspaces (apps/*, libs/*, libs/providers/*, examples/*) by itself.
FROM ${NODE_IMAGE} AS manifests
WORKDIR /app
COPY . .
RUN find . -type f ! -name package.json ! -name package-lock.json -delete \
 && find . -depth -type d -empty -delete

# --- build: all dependencies, prisma generate + tsc -b, then drop dev dependencies
FROM ${NODE_IMAGE} AS build
WORKDIR /app
# prisma generate for the driver-adapter client needs no schema engine; /bin/true stops the CLI (and the
# @prisma/engines postinstall) from downloading one. Migrations use our own runner (libs/persistence).
ENV PRISMA_SCHEMA_ENGINE_BINARY=/bin/true \
    PRISMA_HIDE_UPDATE_MESSAGE=1 \
    NX_DAEMON=false \
    NX_NO_CLOUD=true \
    npm_config_update_notifier=false
COPY --from=manifests /app ./
RUN --mount=type=cache,target=/root/.npm npm ci --no-audit --no-fund
COPY . .
RUN npm run build && npm prune --omit=dev --no-audit --no-fund
# the runtime needs each workspace's dist/ and package.json, not its TypeScript sources
RUN for ws in apps/* libs/* libs/providers/* examples/*; do \
      if [ -f "$ws/package.json" ]; then rm -rf "$ws/src" "$ws/test"; fi; \
    done

# --- runtime
FROM ${NODE_IMAGE} AS runtime
ENV NODE_ENV=production \
    SIMPLETUNER_STATE_DIR=/data \
    npm_config_update_notifier=false
WORKDIR /app
# /data is the state dir (generated keys, admin API key, fs storage); created here so a fresh named
# volume inherits the ownership of the non-root user.
RUN mkdir -p /data /datasets && chown node:node /data
COPY --from=build --chown=root:root /app/package.json /app/package-lock.json ./
COPY --from=build --chown=root:root /app/node_modules ./node_modules
COPY --from=build --chown=root:root /app/prisma ./prisma
COPY --from=build --chown=root:root /app/libs ./libs
COPY --from=build --chown=root:root /app/apps ./apps
COPY --from=build --chown=root:root /app/examples ./examples
USER node
VOLUME ["/data"]
EXPOSE 8001 8002 8003 8004 8005
CMD ["node", "apps/api-gateway/dist/main.js"]
