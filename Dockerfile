# syntax=docker/dockerfile:1
# The cdr-sink binary in a small Debian image, running as a non-root user.
#
#   docker build -t cdr-sink .
#   docker run --rm -e TSG_TOKEN -e AWS_REGION cdr-sink archive --incremental ... --out s3://bucket/cdrs/
#
# The builder's Rust matches rust-toolchain.toml (so rustup downloads nothing more), and its
# Debian release matches the runtime image's (the binary links against glibc).

FROM rust:1.95.0-trixie AS build
WORKDIR /src
COPY . .
# The registry and target caches live between builds (BuildKit); the binary is copied out of
# the cache in the same step.
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    --mount=type=cache,target=/src/target \
    cargo build --release --locked --package cdr-sink \
 && cp target/release/cdr-sink /usr/local/bin/cdr-sink

FROM debian:trixie-slim
# CA certificates for the TSG API and S3 over HTTPS; nothing else.
RUN apt-get update \
 && apt-get install --yes --no-install-recommends ca-certificates \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --system --uid 10001 --user-group --no-create-home --shell /usr/sbin/nologin cdr-sink
COPY --from=build /usr/local/bin/cdr-sink /usr/local/bin/cdr-sink
USER 10001:10001
WORKDIR /tmp
ENTRYPOINT ["cdr-sink"]
CMD ["--help"]
