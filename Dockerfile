# The dpm image, for a machine with a container builder (docker build,
# podman build, buildah bud, kaniko). One image for both long-running
# commands: `dpm webhook` and `dpm operator` (the chart sets the arguments).
# Without a container daemon, `make image` builds the same image (same
# runtime packages, image/runtime-packages; same user and entrypoint) as an
# OCI layout with mmdebstrap and umoci, and tests/image/run-suite.sh runs
# dpm inside it. docs/operations.md, "The image".

# Build stage: the compiler and the -dev packages, never shipped.
FROM debian:bookworm AS build
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
      build-essential pkg-config libyaml-dev libjansson-dev libcurl4-openssl-dev \
      libssl-dev libwebsockets-dev \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY Makefile VERSION ./
COPY include include
COPY lib lib
COPY cmd cmd
COPY operator operator
COPY webhook webhook
RUN make -j"$(nproc)" build/dpm && strip --strip-debug build/dpm

# Run stage: the slim base with only dpm's runtime libraries.
FROM debian:bookworm-slim
COPY image/runtime-packages /tmp/runtime-packages
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
      $(grep -v '^#' /tmp/runtime-packages) \
 && rm -rf /var/lib/apt/lists/* /tmp/runtime-packages \
 && groupadd --gid 65532 nonroot \
 && useradd --uid 65532 --gid 65532 --home-dir /home/nonroot --create-home \
      --shell /usr/sbin/nologin nonroot
COPY --from=build /src/build/dpm /usr/local/bin/dpm
USER 65532:65532
WORKDIR /
LABEL org.opencontainers.image.title="dpm" \
      org.opencontainers.image.description="Data Product Mesh operator and admission webhook"
ENTRYPOINT ["dpm"]
