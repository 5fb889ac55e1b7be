// iqqq --explain: the resolved configuration and what iqqq would do, step by
// step, with every URL and time limit. Runs nothing.

import type { Config, QuitTarget } from "./config/config.js";
import { formatDuration, shownUrl } from "./config/values.js";
import { EXIT } from "./exit-status.js";
import { readPodFacts } from "./pod/facts.js";
import { rerunReason } from "./pod/knowledge.js";
import { locate } from "./program/run.js";
import { READY_REQUEST_TIMEOUT_MS } from "./ready/wait.js";
import { SIDECARS } from "./sidecar/catalogue.js";
import { ATTEMPT_TIMEOUT_MS, REFUSED_GRACE_MS } from "./sidecar/stop.js";
import { VERSION } from "./version.js";
import { MARK, STARTED_BEFORE_MS } from "./watch/containers.js";

export function explain(config: Config): string {
  const lines: string[] = [
    `iqqq ${VERSION}, ${config.flavour === "scuttle" ? "as scuttle (invoked under that name)" : "as iqqq"}`,
  ];
  const step = (text: string): number => lines.push(`${lines.filter((l) => /^\d+\./.test(l)).length + 1}. ${text}`);
  for (const warning of config.warnings) lines.push(`warning: ${warning}`);
  lines.push(`log level: ${config.logLevel} (to stderr)`);
  const { program, ready, stop, watch, plugins } = config;
  if (plugins.paths.length > 0) {
    step(
      `load plugins ${plugins.paths.map((p) => JSON.stringify(p)).join(", ")} (each load and hook bounded by ${formatDuration(plugins.timeoutMs)}, all of them by ${formatDuration(plugins.budgetMs)})`,
    );
  }

  if (program !== undefined && ready !== undefined) {
    const limit =
      ready.timeoutMs === undefined
        ? "no time limit"
        : `at most ${formatDuration(ready.timeoutMs)}, then ${ready.onTimeout === "quit" ? `do not start the program, stop the sidecars, exit ${EXIT.NOT_READY}` : "start the program anyway"}`;
    step(
      `wait for readiness (${limit}; SIGTERM or SIGINT end the wait: program not started, sidecars stopped, exit 128+N):`,
    );
    for (const c of ready.checks) {
      lines.push(
        `   GET ${shownUrl(c.url)} until 200${c.expectLive ? ' with "state": "LIVE"' : ""}, ${formatDuration(READY_REQUEST_TIMEOUT_MS)} per request, polls 50ms doubling to 500ms apart`,
      );
    }
  }
  if (program !== undefined) {
    const found = locate(program.file);
    step(
      "path" in found
        ? `run ${JSON.stringify([program.file, ...program.args])} (${found.path}), forwarding signals; exit with its status`
        : `run ${JSON.stringify([program.file, ...program.args])}: it cannot, ${JSON.stringify(program.file)} is ${found.why}: the run would exit ${found.status}`,
    );
  } else if (watch !== undefined) {
    // A watch that never sees what it waits for is a failure: NEVER_KILL_ISTIO_ON_FAILURE applies to it.
    const afterTimeout = `${stop.skipOnFailure ? "leave the sidecars running (NEVER_KILL_ISTIO_ON_FAILURE)" : "stop the sidecars"} and exit ${EXIT.NOT_READY}`;
    if (watch.containers !== undefined) {
      // As the run does it (watch/containers.ts): a container not seen within STARTED_BEFORE_MS had
      // ended before, unless a start timeout waits for it.
      const limit =
        watch.startTimeoutMs === undefined
          ? `one not seen within ${formatDuration(STARTED_BEFORE_MS)} had ended before the watcher looked (the kubelet starts it last), unless nothing else can be seen in /proc (then as long as it takes)`
          : `at most ${formatDuration(watch.startTimeoutMs)} for all of them, then ${afterTimeout}`;
      step(
        `watch /proc for the processes of ${watch.containers} job container(s), each told by its mount at ${MARK} (${limit}), then until none of them is left; SIGTERM ends the watch (exit 128+N)`,
      );
    } else {
      const what = [
        watch.names.length === 0
          ? ""
          : watch.names.length === 1
            ? `named ${JSON.stringify(watch.name)}`
            : `named each of ${watch.names.map((n) => JSON.stringify(n)).join(", ")} (every one must appear and end)`,
        watch.pattern === undefined ? "" : `whose command line matches ${String(watch.pattern)}`,
      ]
        .filter(Boolean)
        .join(" and ");
      const limit =
        watch.startTimeoutMs === undefined
          ? "as long as it takes"
          : `at most ${formatDuration(watch.startTimeoutMs)}, then ${afterTimeout}`;
      step(
        `watch /proc for a process ${what} to appear (${limit}), then until every such process has gone; SIGTERM ends the watch (exit 128+N)`,
      );
    }
  } else {
    step("standalone: stop the sidecars now");
  }
  const failed =
    program !== undefined && stop.skipOnFailure ? " if the program succeeded (NEVER_KILL_ISTIO_ON_FAILURE)" : "";
  if (stop.skipReason === undefined && stop.restartPolicy !== undefined) {
    const rerun = rerunReason(stop.restartPolicy, true);
    step(
      stop.restartPolicy === "OnFailure"
        ? `if the program fails, stop no sidecar: ${rerun} (IQQQ_RESTART_POLICY)`
        : stop.restartPolicy === "Always"
          ? `stop no sidecar: ${rerun} (IQQQ_RESTART_POLICY)`
          : "the pod's restartPolicy is Never (IQQQ_RESTART_POLICY): the program runs once",
    );
  }
  if (config.group !== undefined && stop.skipReason === undefined) {
    const { dir, members, name } = config.group;
    step(
      `record ${name}'s end in ${dir}/${name}.exit; go on to stop the sidecars only if every member of IQQQ_GROUP (${members.join(", ")}) has finished`,
    );
  }
  if (stop.skipReason !== undefined) {
    step(`stop no sidecar: ${stop.skipReason}`);
  } else {
    step(
      `stop the sidecars${failed}, within ${formatDuration(stop.budgetMs)} in all (IQQQ_QUIT_TIMEOUT), ${formatDuration(ATTEMPT_TIMEOUT_MS)} per request, retrying 5xx/429/resets/timeouts, never following redirects, giving up on connection refused after ${formatDuration(REFUSED_GRACE_MS)}:`,
    );
    if (stop.genericFirst && stop.generic.length > 0) lines.push("   first, one after the other with the rest:");
    for (const url of stop.generic) lines.push(`   POST ${shownUrl(url)} (generic endpoint: answer logged only)`);
    const { facts, warning } = readPodFacts(stop.podinfo.path, stop.podinfo.explicit);
    const present = new Set([...stop.podSidecars, ...facts.present]);
    for (const t of stop.targets) {
      const native = facts.skip.get(t.name);
      const late = present.has(t.name)
        ? `; the pod has it, so while it refuses connections its stop is retried for ${formatDuration(stop.startTimeoutMs)} (IQQQ_POD_SIDECARS, IQQQ_SIDECAR_START_TIMEOUT)`
        : "";
      lines.push(native === undefined ? `   ${target(t)}${late}` : `   not ${t.name}: ${native}`);
    }
    lines.push(`   (what the pod says of its sidecars: ${warning ?? facts.source}; IQQQ_PODINFO_ANNOTATIONS)`);
    if (stop.podLookup)
      lines.push(
        "   (IQQQ_POD_LOOKUP=api: at stop time, the pod's spec from the API server too; its native sidecars get no quit)",
      );
    if (stop.pkillFallback)
      lines.push("   if the istio request fails: SIGINT to processes named pilot-agent (ISTIO_FALLBACK_PKILL)");
  }
  return `${lines.join("\n")}\n`;
}

function target(t: QuitTarget): string {
  if (t.kind === "signal")
    return `${t.signal} to processes named ${t.process} (${t.name}; needs shareProcessNamespace)`;
  const what = SIDECARS.find((s) => s.name === t.name)?.what;
  return `POST ${shownUrl(t.url)} (${t.name}${what === undefined ? "" : `: ${what}`}${t.optional ? ", if something listens there: auto" : ""})`;
}
