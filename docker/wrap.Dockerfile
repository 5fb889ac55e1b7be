# Wrap the entrypoint (recommended): add iqqq and put it in front of the image's program,
# so the sidecar is stopped whenever the program ends, whatever its status.
#
#   docker build -f docker/wrap.Dockerfile --build-arg BASE=my-job:1.2 -t my-job:1.2-iqqq .
#
# BASE must have glibc (distroless base/cc, Debian, Ubuntu, UBI); for Alpine use
# VARIANT=linux-x64-musl (or linux-arm64-musl) and a BASE with libstdc++.
# The build context is this repository after `npm run build:binaries`. To take
# iqqq from the iqqq image instead (any base: it brings its own loader and
# libraries, and runs only at /opt/iqqq), drop the first stage and write
#   COPY --from=REGISTRY/iqqq:0.1.0 /opt/iqqq /opt/iqqq
#   ENTRYPOINT ["/opt/iqqq/iqqq", "--"]
ARG BASE=gcr.io/distroless/base-debian12:nonroot
ARG VARIANT=linux-x64

FROM scratch AS iqqq
ARG VARIANT
COPY dist/bin/iqqq-${VARIANT} /iqqq

FROM ${BASE}
COPY --from=iqqq --chmod=0755 /iqqq /usr/local/bin/iqqq
# Exec form, so iqqq is PID 1: it gets the kubelet's SIGTERM and forwards it.
# Setting ENTRYPOINT clears the base image's CMD, and a Dockerfile cannot read
# the base's ENTRYPOINT: restate the program here, as the base's ENTRYPOINT
# followed by its CMD. A Pod's `args:` replaces CMD (iqqq stays in front);
# a Pod's `command:` replaces iqqq itself, so leave `command:` unset.
ENTRYPOINT ["/usr/local/bin/iqqq", "--"]
CMD ["/app/job"]
