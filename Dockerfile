# dbwitness: a small image for the daemon. Build: docker build -t dbwitness .
FROM node:20-bookworm-slim AS build
WORKDIR /app
RUN apt-get update && apt-get install -y --no-install-recommends python3 make g++ && rm -rf /var/lib/apt/lists/*
COPY package.json package-lock.json ./
# The embedded PostgreSQL packages are only for the demo and tests; the image omits them.
RUN npm ci --omit=dev --omit=optional --ignore-scripts && npm rebuild better-sqlite3
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
COPY adapters ./adapters
COPY bin ./bin
COPY schema ./schema
RUN npx --yes typescript@5.9 tsc -p tsconfig.build.json

FROM node:20-bookworm-slim
WORKDIR /app
ENV NODE_ENV=production
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
COPY --from=build /app/bin ./bin
COPY --from=build /app/schema ./schema
COPY package.json ./
# The store holds ePHI-derived evidence: run unprivileged, keep it on a volume.
RUN useradd --system --uid 10001 --home /var/lib/dbwitness dbwitness \
 && mkdir -p /var/lib/dbwitness /var/lib/dbwitness-anchors /etc/dbwitness/keys \
 && chown dbwitness /var/lib/dbwitness /var/lib/dbwitness-anchors /etc/dbwitness/keys \
 && chmod 0700 /var/lib/dbwitness /var/lib/dbwitness-anchors
USER dbwitness
VOLUME ["/var/lib/dbwitness", "/var/lib/dbwitness-anchors"]
# /healthz, /readyz and /metrics when http.listen is set (see docs/operations.md).
EXPOSE 9464
# Liveness only: readiness (/readyz) depends on the databases and is for orchestrators to read.
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s CMD ["node", "-e", "fetch('http://127.0.0.1:9464/healthz').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"]
STOPSIGNAL SIGTERM
# glibc malloc returns freed memory instead of keeping it (see deploy/dbwitness.service).
ENV MALLOC_ARENA_MAX=2 MALLOC_TRIM_THRESHOLD_=131072 MALLOC_MMAP_THRESHOLD_=131072
# A capped V8 heap keeps RSS bounded (see BENCHMARKS.md, memory).
ENTRYPOINT ["node", "--max-old-space-size=128", "--max-semi-space-size=2", "/app/bin/dbwitness.js"]
CMD ["run", "--config", "/etc/dbwitness/dbwitness.yaml"]
