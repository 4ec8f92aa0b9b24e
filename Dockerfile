# syntax=docker/dockerfile:1
# The MCPEngine gateway (and the stdio proxy) as a container image.
#
#   docker build -t mcpengine .
#   docker run --rm -p 8080:8080 -v "$PWD/mcpengine.yaml:/etc/mcpengine/mcpengine.yaml:ro" mcpengine
#
# The configuration must listen on 0.0.0.0 inside the container (listen: "0.0.0.0:8080") and name
# the Host clients use in allowed_hosts. docs/deploying.md has the details.
#
# UNTESTED: docker could not run where this file was written. Its steps (npm ci, npm run build,
# npm prune --omit=dev, then running bin/mcpengine.js from the pruned tree) were run by hand
# outside a container.

FROM node:20-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY . .
# dist/ is the compiled gateway; bin/mcpengine.js runs it while it is newer than the sources.
RUN npm run build && npm prune --omit=dev --no-audit --no-fund

FROM node:20-bookworm-slim
ENV NODE_ENV=production
WORKDIR /app
COPY --from=build /app /app
USER node
EXPOSE 8080
# SIGTERM (docker stop) drains: see drain_timeout. Give docker stop at least that long (--time).
ENTRYPOINT ["node", "bin/mcpengine.js"]
CMD ["serve", "--config", "/etc/mcpengine/mcpengine.yaml"]
