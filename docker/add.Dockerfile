# Add iqqq: put iqqq into an existing image, on PATH, and change nothing else.
# The image keeps its own ENTRYPOINT; whoever runs it calls `iqqq` (standalone,
# to stop the sidecar) or `iqqq PROGRAM…` (to wrap) themselves.
#
#   docker build -f docker/add.Dockerfile --build-arg BASE=my-app:1.2 -t my-app:1.2-iqqq .
#
# BASE must have glibc (distroless base/cc, Debian, Ubuntu, UBI). For Alpine use
# VARIANT=linux-x64-musl (or linux-arm64-musl) and a BASE with libstdc++.
# The build context is this repository after `npm run build:binaries`; to take
# iqqq from a published image instead, replace the COPY source with
#   COPY --from=IQQQ_IMAGE /usr/local/bin/iqqq /usr/local/bin/iqqq
ARG BASE=gcr.io/distroless/base-debian12:nonroot
ARG VARIANT=linux-x64

FROM scratch AS iqqq
ARG VARIANT
COPY dist/bin/iqqq-${VARIANT} /iqqq

FROM ${BASE}
COPY --from=iqqq --chmod=0755 /iqqq /usr/local/bin/iqqq
