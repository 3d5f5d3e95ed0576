# Switchboard server image (Debian 12 + Node 20, like the development machines).
FROM node:20-bookworm-slim
WORKDIR /app
# Recording (issue 5): Debian's ffmpeg records (and streams); recordings go to DATA_DIR/recordings.
RUN apt-get update && apt-get install -y --no-install-recommends ffmpeg && rm -rf /var/lib/apt/lists/*
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY . .
RUN npx tsc -p tsconfig.json && node clients/browser/build.mjs --minify
ENV PORT=8080 DATA_DIR=/data
VOLUME /data
EXPOSE 8080
CMD ["node", "dist/server/main.js"]
