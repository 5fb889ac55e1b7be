import { VARIABLES } from "./config/variables.js";
import { EXIT } from "./exit-status.js";
import { KIND_NAMES } from "./sidecar/catalogue.js";
import { VERSION } from "./version.js";

export function helpText(): string {
  const width = Math.max(...VARIABLES.map((v) => v.name.length));
  const vars = VARIABLES.map((v) => `  ${v.name.padEnd(width)}  ${v.meaning} [default: ${v.default}]`).join("\n");
  return `iqqq ${VERSION} (istio_quitquitquit): stop the service-mesh sidecar when a Job's program ends.

Usage:
  iqqq                      stop the sidecar now (standalone)
  iqqq [--] PROGRAM [ARGS…] run PROGRAM with ARGS untouched, forward signals to it,
                            then stop the sidecar and exit with PROGRAM's status
  IQQQ_WATCH_PROCESS=NAME iqqq
                            watcher container: wait for process NAME (shared process
                            namespace) to appear and to end, then stop the sidecar
  iqqq --explain [PROGRAM…] print the resolved configuration and every step iqqq
                            would take (waits, requests, URLs, time limits) to
                            stdout; run nothing; says when PROGRAM cannot be found
  iqqq --help (-h) | --version (with the build: runtime, platform; the Node
                            bundle's compile cache, docs/install.md)
iqqq's own options come before PROGRAM, in any order: --help wins, then --version.

Commands (the first argument; to run a program of that name: iqqq -- NAME …):
  iqqq install DIR          copy iqqq into DIR: from the iqqq image the whole
                            self-contained /opt/iqqq (an init container's job);
                            the Node bundle with its compile cache for this Node
  iqqq inject [FILE…]       Kubernetes YAML (files, or stdin) to stdout with iqqq
                            injected into every Pod, Job and CronJob; --help for more
  iqqq webhook              a mutating admission webhook injecting iqqq into pods
                            labelled iqqq.io/inject=true; --help for more
  iqqq reaper               a controller that stops the sidecars of Job pods whose
                            job has ended, from an ephemeral container; --help for more

By default the sidecar is stopped with POST http://127.0.0.1:15020/quitquitquit
(Istio's pilot-agent); IQQQ_SIDECARS picks others (${KIND_NAMES.filter((k) => k !== "istio").join(", ")},
or auto). Requests are retried on 5xx, resets and timeouts within
IQQQ_QUIT_TIMEOUT; redirects are never followed; connection refused means no
sidecar. ENVOY_ADMIN_API or IQQQ_WAIT_FOR hold the program back until the
sidecar is ready. Invoked as "scuttle" (a symlink or copy), iqqq follows
scuttle's rules. iqqq logs to stderr only; stdout is the program's. Empty
variables count as unset; a bad value is an error that names the variable, and
then nothing is run.

Environment:
${vars}

Exit status:
  wrapper      the program's own status; ${EXIT.SIGNAL_BASE}+N if a signal N killed it;
               ${EXIT.NOT_FOUND} command not found; ${EXIT.NOT_EXECUTABLE} found but not executable
               (the sidecar is stopped in every case); ${EXIT.NOT_READY} not ready within
               QUIT_WITHOUT_ENVOY_TIMEOUT (program not started, sidecar stopped)
  watcher      ${EXIT.OK} the process ended and the sidecar was stopped; ${EXIT.NOT_READY} nothing appeared
               within IQQQ_WATCH_START_TIMEOUT; ${EXIT.NO_PROC} /proc unreadable; 128+N on a signal
  standalone   ${EXIT.OK} stopped, or nothing to do (not in Kubernetes, disabled);
               ${EXIT.STOP_FAILED} a sidecar refused or did not answer in time;
               ${EXIT.NO_SIDECAR} no sidecar listening (connection refused)
  both         ${EXIT.USAGE} bad option, ${EXIT.CONFIG} bad variable (nothing run), ${EXIT.INTERNAL} internal error;
               ${EXIT.IO_ERROR} iqqq's own output (inject's, --help's, --explain's) not written whole
  commands     inject: ${EXIT.DATA} input it cannot inject (nothing written); install: ${EXIT.CANT_CREATE} cannot
               copy into DIR; webhook: ${EXIT.CONFIG} certificate unreadable or port unusable;
               reaper: ${EXIT.CONFIG} no kubeconfig or port unusable, ${EXIT.OK} after SIGTERM;
               all four, and IQQQ_WATCH_PATTERN: ${EXIT.MISSING_PART} the Node bundle copied without
               the files beside it (commands/, vendor/)
`;
}
