# syntax=docker/dockerfile:1
# menon-harness in a container: `docker build -t menon-harness .`, then
#   docker run -p 8787:8787 -v menon-data:/data menon-harness
# (compose.yaml does the same with a health check). The final image holds the binary,
# glibc and CA certificates only (distroless), runs as a non-root user, and keeps its
# database, keys and secrets in the /data volume.

# --- build ------------------------------------------------------------------------------
FROM rust:1-bookworm AS build
WORKDIR /src
COPY . .
# The binary and its libraries only: no bindings, no examples.
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    --mount=type=cache,target=/src/target \
    cargo build --release --locked -p menon-harness \
 && cp target/release/menon-harness /menon-harness \
 && mkdir /data && chown 65532:65532 /data

# --- run --------------------------------------------------------------------------------
FROM gcr.io/distroless/cc-debian12:nonroot
COPY --from=build /menon-harness /usr/local/bin/menon-harness
# An empty /data owned by the user below: a new named volume takes its owner from it.
COPY --from=build --chown=65532:65532 /data /data
# distroless' `nonroot` user (65532); the volume is created owned by it.
USER 65532:65532
WORKDIR /data
VOLUME ["/data"]
ENV MENON_DATA_DIR=/data \
    MENON_LISTEN=0.0.0.0:8787
EXPOSE 8787
HEALTHCHECK --interval=10s --timeout=3s --start-period=5s --retries=3 \
    CMD ["/usr/local/bin/menon-harness", "health", "http://127.0.0.1:8787/healthz"]
ENTRYPOINT ["/usr/local/bin/menon-harness"]
CMD ["serve"]
