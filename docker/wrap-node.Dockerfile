# Wrap the entrypoint of an image that already has Node.js ≥ 20: the single-file bundle
# (dist/iqqq.mjs, 83 KiB) instead of a standalone executable. It wraps on its
# own; what it loads on demand (the install/inject/webhook commands in
# dist/commands/, the IQQQ_WATCH_PATTERN engine in dist/vendor/) is not needed here.
#
#   docker build -f docker/wrap-node.Dockerfile --build-arg BASE=my-node-job:1.2 -t my-node-job:1.2-iqqq .
#
# The bundle's shebang is `#!/usr/bin/env node`; it is run as `node …` below so
# that images without /usr/bin/env work too. On distroless nodejs, node is
# /nodejs/bin/node: write that instead of "node" in both lines.
ARG BASE=node:20-slim

FROM ${BASE}
COPY --chmod=0755 dist/iqqq.mjs /usr/local/bin/iqqq
# Exec form, so iqqq is PID 1 and gets the kubelet's SIGTERM; restate the
# program (the base's ENTRYPOINT + CMD); leave the Pod's `command:` unset.
ENTRYPOINT ["node", "/usr/local/bin/iqqq", "--"]
CMD ["node", "/app/job.js"]
