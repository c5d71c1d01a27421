# One image with both binaries: `skein` (load generator, manager, worker) and `target-server`.
# Build: docker build -t skein .
FROM rust:1-bookworm AS build
WORKDIR /src
COPY . .
RUN cargo build --release --locked -p skein -p target-server \
 && cp target/release/skein target/release/target-server /usr/local/bin/

FROM debian:bookworm-slim
RUN apt-get update \
 && apt-get install -y --no-install-recommends ca-certificates \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --system --uid 10001 --home-dir /work skein \
 && mkdir -p /work/reports/out /data \
 && chown -R skein /work /data
COPY --from=build /usr/local/bin/skein /usr/local/bin/target-server /usr/local/bin/
USER skein
WORKDIR /work
ENTRYPOINT []
CMD ["skein", "--help"]
