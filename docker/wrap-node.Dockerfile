# Wrap the entrypoint of an image that already has Node.js ≥ 20: the single-file bundle
# (dist/iqqq.mjs, 95 KiB) instead of a standalone executable. It wraps on its
# own; of what it loads on demand (the commands in dist/commands/, the
# IQQQ_WATCH_PATTERN engine in dist/vendor/) only `iqqq install` is copied, for
# the RUN below.
#
#   docker build -f docker/wrap-node.Dockerfile --build-arg BASE=my-node-job:1.2 -t my-node-job:1.2-iqqq .
#
# The RUN has the image's own Node write the bundle's compile cache,
# /usr/local/lib/iqqq/iqqq.mjs.cache (one run that stops a stand-in sidecar on
# loopback): every pod's start then compiles less (docs/install.md). Without it
# (COPY the bundle alone and no RUN) the bundle runs the same, and starts slower.
#
# The bundle's shebang is `#!/usr/bin/env node`; it is run as `node …` below so
# that images without /usr/bin/env or a shell work too. On distroless nodejs,
# node is /nodejs/bin/node: write that instead of "node" in both lines.
ARG BASE=node:20-slim

FROM ${BASE}
COPY --chmod=0755 dist/iqqq.mjs /usr/local/lib/iqqq/iqqq.mjs
COPY dist/commands/install.mjs /usr/local/lib/iqqq/commands/install.mjs
RUN ["node", "/usr/local/lib/iqqq/iqqq.mjs", "install", "/usr/local/lib/iqqq"]
# Exec form, so iqqq is PID 1 and gets the kubelet's SIGTERM; restate the
# program (the base's ENTRYPOINT + CMD); leave the Pod's `command:` unset.
ENTRYPOINT ["node", "/usr/local/lib/iqqq/iqqq.mjs", "--"]
CMD ["node", "/app/job.js"]
