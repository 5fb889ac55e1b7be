# A minimal watcher image: iqqq alone, run as its own container in the Job's Pod
# (shareProcessNamespace: true), for programs whose image cannot be changed.
# It waits for the process named by IQQQ_WATCH_PROCESS to appear and end, then
# stops the sidecar. Watcher mode is a separate feature: see docs/watcher.md.
#
#   docker build -f docker/watcher.Dockerfile -t iqqq-watcher .
#
# The Bun executable needs glibc (no libssl, no libstdc++): distroless
# base-nossl is the smallest such base. distroless/static has no libc at all.
ARG BASE=gcr.io/distroless/base-nossl-debian12:nonroot
ARG VARIANT=linux-x64

FROM scratch AS iqqq
ARG VARIANT
COPY dist/bin/iqqq-${VARIANT} /iqqq

FROM ${BASE}
COPY --from=iqqq --chmod=0755 /iqqq /usr/local/bin/iqqq
# Not PID 1 of the Pod (the pause container is), and nothing to forward signals to.
ENTRYPOINT ["/usr/local/bin/iqqq"]
