# Add iqqq: put iqqq into an existing image, on PATH, and change nothing else.
# The image keeps its own ENTRYPOINT; whoever runs it calls `iqqq` (standalone,
# to stop the sidecar) or `iqqq PROGRAM…` (to wrap) themselves.
#
#   docker build -f docker/add.Dockerfile --build-arg BASE=my-app:1.2 -t my-app:1.2-iqqq .
#
# BASE must have glibc (distroless base/cc, Debian, Ubuntu, UBI). For Alpine use
# VARIANT=linux-x64-musl (or linux-arm64-musl) and a BASE with libstdc++.
# The build context is this repository after `npm run build:binaries`. To take
# iqqq from the iqqq image instead (any base: it brings its own loader and
# libraries, and runs only at /opt/iqqq), drop the first stage and write
#   COPY --from=REGISTRY/iqqq:0.1.0 /opt/iqqq /opt/iqqq
# and call /opt/iqqq/iqqq.
ARG BASE=gcr.io/distroless/base-debian12:nonroot
ARG VARIANT=linux-x64

FROM scratch AS iqqq
ARG VARIANT
COPY dist/bin/iqqq-${VARIANT} /iqqq

FROM ${BASE}
COPY --from=iqqq --chmod=0755 /iqqq /usr/local/bin/iqqq
