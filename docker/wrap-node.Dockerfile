# Wrap the entrypoint of an image that already has Node.js ≥ 20: the single-file bundle
# (dist/iqqq.mjs, 95 KiB) instead of a standalone executable. It wraps on its
# own; of what it loads on demand (the commands in dist/commands/, the
# IQQQ_WATCH_PATTERN engine in dist/vendor/) only `iqqq install` is copied, for
# the RUN below.
#
#   docker build -f docker/wrap-node.Dockerfile --build-arg BASE=my-node-job:1.2 -t my-node-job:1.2-iqqq .
#
# The first stage has the image's own Node write the bundle's compile cache,
# /usr/local/lib/iqqq/iqqq.mjs.cache (`iqqq install`: one run that stops a
# stand-in sidecar on loopback): every pod's start then compiles less
# (docs/install.md). As root there (USER 0:0: no /etc/passwd needed), so that
# a base whose USER is not root builds too; the image itself keeps the base's
# USER. Without that stage (COPY the bundle alone, no RUN) the bundle runs the
# same, and starts slower. A NODE_OPTIONS that changes V8's flags must be the
# same in both stages: V8 takes a cache only under the flags it was made with.
#
# The bundle's shebang is `#!/usr/bin/env node`; it is run as `node …` below so
# that images without /usr/bin/env or a shell work too. On distroless nodejs,
# node is /nodejs/bin/node: write that instead of "node" in all three lines.
ARG BASE=node:20-slim

FROM ${BASE} AS cache
USER 0:0
COPY --chmod=0755 dist/iqqq.mjs /tmp/iqqq/iqqq.mjs
COPY dist/commands/install.mjs /tmp/iqqq/commands/install.mjs
RUN ["node", "/tmp/iqqq/iqqq.mjs", "install", "/usr/local/lib/iqqq"]

FROM ${BASE}
COPY --from=cache /usr/local/lib/iqqq/ /usr/local/lib/iqqq/
# Exec form, so iqqq is PID 1 and gets the kubelet's SIGTERM; restate the
# program (the base's ENTRYPOINT + CMD); leave the Pod's `command:` unset.
ENTRYPOINT ["node", "/usr/local/lib/iqqq/iqqq.mjs", "--"]
CMD ["node", "/app/job.js"]
