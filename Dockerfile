# One image for every Weft service; docker-compose.yml picks the entry point per service.
FROM node:20-bookworm-slim AS build
WORKDIR /weft
COPY package.json package-lock.json ./
COPY tools ./tools
COPY patches ./patches
COPY bin ./bin
COPY .swcrc tsconfig.json ./
COPY apps ./apps
COPY libs ./libs
COPY bench ./bench
RUN npm ci --no-audit --no-fund && npm prune --omit=dev

FROM node:20-bookworm-slim
WORKDIR /weft
ENV NODE_ENV=production
COPY --from=build /weft/node_modules ./node_modules
COPY --from=build /weft/dist ./dist
COPY --from=build /weft/bin ./bin
COPY package.json ./
# docker-compose.yml mounts a named volume per node at /data/node-N (and /data/meta): a new volume takes the
# owner of the image's directory, so create them owned by the unprivileged user the services
# run as (otherwise a node cannot write its WAL).
RUN mkdir -p /data/meta /data/node-1 /data/node-2 /data/node-3 && chown -R node:node /data
USER node
# `weft start --role meta|node|gateway` runs one service configured by WEFT_* variables
# (docker-compose.yml starts the same entry points directly).
CMD ["node", "dist/apps/cli/src/main.js", "help"]
