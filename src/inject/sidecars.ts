// Which sidecars a pod has, read from its spec and metadata when iqqq is put
// into it, so that the wrapper knows what to stop (IQQQ_SIDECARS), what is
// there but may still be starting (IQQQ_POD_SIDECARS), and on which port. Each
// kind of the catalogue is found by its marks: its injector's opt-in on the pod
// (the sidecar comes later), or its container. A sidecar that runs as a native
// one (an init container with restartPolicy: Always, or the native annotation)
// is the kubelet's to stop, and left out; so is one whose stop endpoint is off
// (with a warning: the pod will not end), and the annotation that turns it on
// is added when its injector reads one.

import { containerKinds, type HttpSidecar, isContainerOf, SIDECARS } from "../sidecar/catalogue.js";

type Obj = Record<string, unknown>;

interface Container {
  readonly name: string;
  readonly image?: string;
  readonly args?: readonly string[];
  readonly command?: readonly string[];
  readonly env?: readonly Obj[];
  readonly restartPolicy?: string;
}

export interface PodSidecars {
  /** IQQQ_SIDECARS for the job containers; undefined: nothing says, the wrapper's default (istio). */
  readonly stop: readonly string[] | undefined;
  /** IQQQ_POD_SIDECARS: the kinds the pod has (or will have, once its mesh's injector has run). */
  readonly present: readonly string[];
  /** Other variables the wrapper needs: a sidecar's port where the pod moves it. */
  readonly env: readonly { readonly name: string; readonly value: string }[];
  /** Variables from a Secret the job containers need for a stop (Dapr's API token), where they have none. */
  readonly secretEnv: readonly SecretVariable[];
  /** Annotations the pod needs for a sidecar of it to be stoppable at all (Linkerd's shutdown endpoint). */
  readonly annotations: Readonly<Record<string, string>>;
  /** What stands in the way of a pod that ends, for the person who runs inject. */
  readonly warnings: readonly string[];
}

/** A container variable from a key of a Secret (optional: a missing Secret or key leaves it unset). */
export interface SecretVariable {
  readonly name: string;
  readonly valueFrom: {
    readonly secretKeyRef: { readonly name: string; readonly key: string; readonly optional: true };
  };
}

export function podSidecars(
  meta: Obj,
  containers: readonly Container[],
  initContainers: readonly Container[],
): PodSidecars {
  const labels = record(meta.labels);
  const annotations = record(meta.annotations);
  const present: string[] = [];
  const env: { name: string; value: string }[] = [];
  const warnings: string[] = [];
  const needs: Record<string, string> = {};
  const extra: string[] = [];
  let optedOut = false;
  const kinds = containerKinds(containers);

  for (const kind of SIDECARS as readonly HttpSidecar[]) {
    const native =
      initContainers.some((c) => c.restartPolicy === "Always" && isContainerOf(kind, c)) ||
      kind.nativeAnnotations.some((key) => annotations[key] === "true");
    const absent = kind.absentIf?.values.includes(String(annotations[kind.absentIf.key]));
    const asked = kind.requested;
    // Its injector's opt-in; where a label counts too, the label wins, as in Istio's own injector.
    const says =
      asked === undefined ? undefined : ((asked.labelToo ? labels[asked.key] : undefined) ?? annotations[asked.key]);
    if (says === "false") optedOut = true;
    if (native || absent) continue;
    const running = containers.filter((_, i) => kinds[i] === kind);
    const requested = asked?.values.includes(String(says));
    const sw = kind.quitSwitch;
    const switchedOn = sw?.annotation !== undefined && annotations[sw.annotation[0]] === sw.annotation[1];
    if (running.length === 0) {
      if (!requested) continue;
      // Its injector adds it later: the pod asks for its stop endpoint, and says its port if it moves it.
      if (sw?.annotation !== undefined && !switchedOn) {
        const said = annotations[sw.annotation[0]];
        // The user's own word is kept: turned off on purpose, the pod is told it will not end.
        if (said === undefined) needs[sw.annotation[0]] = sw.annotation[1];
        else
          warnings.push(
            `the pod sets ${sw.annotation[0]}: ${JSON.stringify(said)}: iqqq cannot stop ${kind.what}, and the pod will not end; turn it on: ${sw.how}`,
          );
      }
      const port = kind.portFrom?.annotation !== undefined ? annotations[kind.portFrom.annotation] : undefined;
      if (typeof port === "string" && port !== String(kind.port.default))
        env.push({ name: kind.port.variable, value: port });
      present.push(kind.name);
      continue;
    }
    let first: string | undefined;
    for (const c of running) {
      const words = [...(c.command ?? []), ...(c.args ?? [])];
      const variable = (name: string | undefined) =>
        name === undefined ? undefined : (c.env?.find((e) => e.name === name)?.value as string | undefined);
      if (sw !== undefined) {
        const on =
          switchedOn ||
          (sw.flag !== undefined && GO_TRUE.has(flagValue(words, sw.flag, true) ?? "")) ||
          GO_TRUE.has(variable(sw.env) ?? "");
        if (!on) {
          warnings.push(
            `${c.name} (${kind.what}) has its stop endpoint off: iqqq cannot stop it, and the pod will not end; turn it on: ${sw.how}`,
          );
          continue;
        }
      }
      const from = kind.portFrom;
      const moved =
        (from?.flag !== undefined ? flagValue(words, from.flag) : undefined) ??
        variable(from?.env) ??
        (from?.annotation !== undefined ? (annotations[from.annotation] as string | undefined) : undefined);
      const port = typeof moved === "string" ? moved : String(kind.port.default);
      if (first === undefined) {
        first = port;
        present.push(kind.name);
        if (port !== String(kind.port.default)) env.push({ name: kind.port.variable, value: port });
      } else extra.push(`http://127.0.0.1:${port}/${kind.quitPath}`);
    }
  }

  // One port variable a kind: a second sidecar of the same kind is POSTed as a generic endpoint.
  if (extra.length > 0) env.push({ name: "GENERIC_QUIT_ENDPOINTS", value: extra.join(",") });
  // A mesh turned off and nothing else: whichever known sidecar answers.
  const stop = present.length > 0 ? present : optedOut ? ["auto"] : undefined;
  // A token the pod's sidecar is given from a Secret: the stop needs the same (catalogue.ts's token).
  const secretEnv = (SIDECARS as readonly HttpSidecar[]).flatMap(({ name, token }) => {
    const from = token?.secret;
    const secret = from === undefined ? undefined : annotations[from.annotation];
    if (token === undefined || from === undefined || typeof secret !== "string" || secret === "") return [];
    if (!present.includes(name)) return [];
    return [
      { name: token.variable, valueFrom: { secretKeyRef: { name: secret, key: from.key, optional: true as const } } },
    ];
  });
  return { stop, present, env, secretEnv, annotations: needs, warnings };
}

/** Go's flag package's true (strconv.ParseBool). */
const GO_TRUE = new Set(["1", "t", "T", "true", "TRUE", "True"]);

/** A flag's value, as Go's flag package reads it: `--flag=V`, `--flag V`, or a bool flag alone ("true"). */
function flagValue(words: readonly string[], flag: string, bool = false): string | undefined {
  for (const [i, w] of words.entries()) {
    for (const f of [flag, flag.slice(1)]) {
      if (w.startsWith(`${f}=`)) return w.slice(f.length + 1);
      if (w === f) return bool ? "true" : words[i + 1];
    }
  }
  return undefined;
}

function record(x: unknown): Record<string, unknown> {
  return typeof x === "object" && x !== null && !Array.isArray(x) ? (x as Record<string, unknown>) : {};
}
