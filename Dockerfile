# Node 24 LTS: Node 20 is past end of life, and Express serves markedly more requests per second on 24.
FROM node:24-bookworm-slim
WORKDIR /app
ENV NODE_ENV=production
# better-sqlite3 ships prebuilt binaries for Node 24; python/make/g++ are only a fallback for other platforms.
RUN apt-get update && apt-get install -y --no-install-recommends python3 make g++ && rm -rf /var/lib/apt/lists/*
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --no-audit --no-fund
COPY . .
# ./data holds the callback spool (callbacks kept while the database is unreachable): a volume in docker-compose.
RUN mkdir -p /app/data && chown node:node /app/data
USER node
EXPOSE 3000
HEALTHCHECK --interval=10s --timeout=3s --retries=5 CMD node -e "fetch('http://127.0.0.1:3000/readyz').then(r=>process.exit(r.ok?0:1)).catch(()=>process.exit(1))"
CMD ["node", "--import", "tsx", "src/server.ts"]
