# API Key Rotator, lightweight mode: one node, SQLite file in /app/data, key state in memory.
#   docker build -t api-key-rotator:latest .
#   docker run -d -p 8000:8000 -v $(pwd)/data:/app/data api-key-rotator:latest
# A bind-mounted ./data must be writable by uid 10001 (`sudo chown 10001:10001 data`), or run with
# `--user "$(id -u):$(id -g)"`; a named volume needs nothing. Dockerfile.enterprise is the same binary with
# MySQL/MariaDB and Redis settings as its defaults. Keep the two stage recipes in step.

# Build stage: the Swift toolchain plus the headers of the C libraries the binary links.
FROM swift:6.3.1-bookworm AS build
RUN apt-get update \
    && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
       pkg-config libsqlite3-dev libmariadb-dev libhiredis-dev \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /src
# Dependencies first, so a source change does not fetch them again.
COPY Package.swift ./
RUN swift package resolve
COPY Sources ./Sources
# Package.swift names the test targets too: SwiftPM wants their folders even when it builds one product.
COPY Tests ./Tests
# The Swift runtime and Foundation are linked in (--static-swift-stdlib): the run stage needs no toolchain.
# The resource bundles (admin page, OpenAPI document, Lua script) are looked up beside the binary.
RUN swift build -c release --product rotator --static-swift-stdlib \
    && bin="$(swift build -c release --show-bin-path)" \
    && install -D -m 0755 "$bin/rotator" /out/rotator \
    && strip /out/rotator \
    && cp -R "$bin"/*.resources /out/

# Run stage: only the shared libraries `ldd rotator` lists beyond the base image (tests/deploy checks this),
# CA certificates for TLS to the upstreams, and a numeric non-root user.
FROM debian:bookworm-slim
RUN apt-get update \
    && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
       libsqlite3-0 libmariadb3 libhiredis0.14 ca-certificates \
    && rm -rf /var/lib/apt/lists/* \
    && groupadd --system --gid 10001 rotator \
    && useradd --system --uid 10001 --gid 10001 --no-create-home --home-dir /app/data --shell /usr/sbin/nologin rotator \
    && mkdir -p /app/data \
    && chown 10001:10001 /app/data
COPY --from=build /out/ /app/
WORKDIR /app
ENV BIND_HOST=0.0.0.0 \
    BACKEND_PORT=8000 \
    DATABASE_PATH=/app/data/rotator.db
USER 10001:10001
VOLUME ["/app/data"]
EXPOSE 8000
# The binary asks its own /healthz (no curl in the image); the start period covers the first migrations.
HEALTHCHECK --interval=15s --timeout=5s --start-period=60s --retries=3 CMD ["/app/rotator", "healthcheck"]
ENTRYPOINT ["/app/rotator"]
