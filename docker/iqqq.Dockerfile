# The iqqq image: /opt/iqqq/ holds the executable with its own loader and
# libraries (patchelf'd to find them there), so it runs FROM scratch and runs
# unchanged when copied into any image: glibc, musl (Alpine) or none at all.
#
#   npm run release    # builds it from the release's x64 executable into
#                      # dist/release/iqqq-image-VERSION-linux-x64.oci.tar
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
