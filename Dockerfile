# One image for every Weft service; docker-compose.yml picks the entry point per service.
FROM node:20-bookworm-slim AS build
WORKDIR /weft
COPY package.json package-lock.json ./
COPY tools ./tools
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
USER node
CMD ["node", "dist/apps/cli/src/main.js", "help"]
