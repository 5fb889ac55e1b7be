# The iqqq image: /opt/iqqq/ holds the executable with its own loader and
# libraries (patchelf'd to find them there), so it runs FROM scratch and runs
# unchanged when copied into any image: glibc, musl (Alpine) or none at all.
#
#   npm run release    # writes this image for linux/amd64 and linux/arm64, one
#                      # OCI index, into dist/release/iqqq-image-VERSION.oci.tar
#                      # (scripts/image.mjs writes the layout itself, with the
#                      # same files, USER and ENTRYPOINT; the pods suite builds
#                      # this file with podman)
#   podman load -i dist/release/iqqq-image-*.oci.tar
#
# Use it as a stage to copy from, in your own Dockerfile:
#   COPY --from=localhost/iqqq:VERSION /opt/iqqq /opt/iqqq
#   ENTRYPOINT ["/opt/iqqq/iqqq", "my-job"]
# The build context is the staging folder scripts/release.mjs prepares (opt/iqqq/).
FROM scratch
COPY opt/ /opt/
# Non-root, as a number so that runAsNonRoot can check it (inject's containers set no runAsUser).
USER 65532:65532
ENTRYPOINT ["/opt/iqqq/iqqq"]
