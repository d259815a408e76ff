# The dualstream service (see docker-compose.yml). Kafka and Redis run in their own containers.
FROM node:20-bookworm-slim
WORKDIR /app
ENV NODE_ENV=production
COPY package.json package-lock.json ./
# Dev dependencies are needed for `tsc`; `npm prune` drops them after the build.
RUN npm ci --include=dev --ignore-scripts
COPY . .
RUN npm run build && npm prune --omit=dev
USER node
EXPOSE 3000
CMD ["npx", "dualstream", "start"]
