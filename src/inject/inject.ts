// Puts iqqq into workloads without rebuilding their images, the way kubexit,
// Argo's emissary and Tekton's entrypoint do: an init container copies iqqq
// (the iqqq image's self-contained /opt/iqqq) into an emptyDir, and each job
// container's command is prefixed with it. Or, in watcher mode, a watcher
// container in a shared process namespace. Pure: objects in, objects out; the
// image look-up for a container without a command is passed in.

import { COMMAND_NAMES } from "../commands/names.js";
import { badPlatform } from "../registry/reference.js";
import { containerKinds, WATCHER_CONTAINER } from "../sidecar/catalogue.js";
import { MARK } from "../watch/containers.js";
import { podSidecars, type SecretVariable } from "./sidecars.js";
import { copy, same, type Value } from "./value.js";

/** Where the copy of /opt/iqqq is mounted in a job container: the path its loader was patched to. */
export const IQQQ_DIR = "/opt/iqqq";
export const IQQQ = `${IQQQ_DIR}/iqqq`;
/** iqqq's volumes' usual names; ourNames() picks others where the pod has volumes of these names. */
export const VOLUME = "iqqq";
export const PODINFO_VOLUME = "iqqq-podinfo";
export const GROUP_VOLUME = "iqqq-group";
export const JOB_VOLUME = "iqqq-job";
/** Watcher mode: where each job container gets the mount that tells it apart. */
const JOB_MARK = MARK;
export const INSTALL_CONTAINER = "iqqq-install";
export { WATCHER_CONTAINER };

const INSTALL_TARGET = "/iqqq-install";
const PODINFO_DIR = "/etc/podinfo";
const GROUP_DIR = "/run/iqqq-group";

export type Mode = "wrapper" | "watcher";

/** The iqqq image's USER (scripts/image.mjs): non-root, as runAsNonRoot requires. */
export const IMAGE_USER_ID = 65532;

/**
 * What iqqq's own containers (iqqq-install, iqqq-watcher) run with: the
 * "restricted" Pod Security Standard (so a namespace that enforces it admits
 * the pod). No user id as a rule: the image's USER is IMAGE_USER_ID, which
 * runAsNonRoot accepts, and a platform that assigns ids from a range
 * (OpenShift's restricted SCC) can set its own. But a container inherits the
 * pod's runAsUser, and the kubelet refuses to start a runAsNonRoot container
 * whose user is 0 (CreateContainerConfigError: the pod would never start, so
 * never end): under a pod that runs as root, iqqq's containers say their own
 * user. Requests and limits for CPU and memory, so that a namespace whose
 * quota counts limits.cpu or memory admits the pod without a LimitRange
 * default (the executable's peak RSS is about 40 MB; copying it is about 0.3 s
 * of CPU), but never such as to change the pod's QoS class (ownResources).
 */
function ownContainer(spec: PodSpec) {
  const podUser = isObj(spec.securityContext) ? spec.securityContext.runAsUser : undefined;
  const asRoot = podUser === 0 || podUser === 0n;
  return {
    securityContext: {
      runAsNonRoot: true,
      ...(asRoot ? { runAsUser: IMAGE_USER_ID } : {}),
      allowPrivilegeEscalation: false,
      readOnlyRootFilesystem: true,
      capabilities: { drop: ["ALL"] },
      seccompProfile: { type: "RuntimeDefault" },
    },
    ...ownResources(spec),
  };
}

const LIMITS = { cpu: "500m", memory: "128Mi" };

/**
 * iqqq's resources in this pod, such that it keeps the QoS class Kubernetes
 * gives it from the cpu and memory of all its containers and init containers
 * (pkg/apis/core/helper/qos, where only a quantity above zero counts): none
 * in a BestEffort pod (no container says any), requests equal to limits in a
 * Guaranteed one (every container limits both, its requests, where said,
 * equal), the default otherwise. A pod with resources of its own
 * (spec.resources, Kubernetes 1.32 and later) takes its class from them, and
 * each container's limits must fit in them: none there. Quantities are
 * compared as Kubernetes reads them (quantity()); a doubtful pod gets the
 * default, which leaves a Burstable pod Burstable.
 */
function ownResources(spec: PodSpec): { resources?: Obj } {
  if (isObj(spec.resources) && Object.keys(spec.resources).length > 0) return {};
  const all = [...(spec.initContainers ?? []), ...(spec.containers ?? [])];
  const said = (c: Container, kind: "requests" | "limits"): Obj =>
    isObj(c.resources) && isObj(c.resources[kind]) ? c.resources[kind] : {};
  // Only a quantity above zero counts, as in the kubelet's QoS; one that is no quantity is taken as said.
  const counts = (v: unknown): boolean => v !== undefined && v !== null && (quantity(v) ?? 1n) > 0n;
  const cpuMemory = (o: Obj): boolean => counts(o.cpu) || counts(o.memory);
  if (all.every((c) => !cpuMemory(said(c, "requests")) && !cpuMemory(said(c, "limits")))) return {};
  const guaranteed = all.every((c) => {
    const limits = said(c, "limits");
    const requests = said(c, "requests");
    return (["cpu", "memory"] as const).every((r) => {
      const limit = quantity(limits[r]);
      if (limit === undefined || limit <= 0n) return false;
      const request = requests[r] === undefined ? limit : quantity(requests[r]);
      return request === limit;
    });
  });
  if (guaranteed) return { resources: { requests: { ...LIMITS }, limits: { ...LIMITS } } };
  return { resources: { requests: { cpu: "10m", memory: "32Mi" }, limits: { ...LIMITS } } };
}

/** The decimal suffixes of a Kubernetes quantity, as powers of ten. */
const DECIMAL: Readonly<Record<string, number>> = { n: -9, u: -6, m: -3, "": 0, k: 3, M: 6, G: 9, T: 12, P: 15, E: 18 };
/** The binary ones, as powers of 1024. */
const BINARY: Readonly<Record<string, number>> = { Ki: 1, Mi: 2, Gi: 3, Ti: 4, Pi: 5, Ei: 6 };

/**
 * A resource quantity ("500m", "1Gi", 2, "1e3", "0.7") in billionths, as
 * Kubernetes reads it (resource.ParseQuantity rounds a value up to a whole
 * 1n), exactly: floating point would make 700m and 0.7 differ. Undefined when
 * it is none.
 */
function quantity(value: unknown): bigint | undefined {
  const text =
    typeof value === "string"
      ? value.trim()
      : typeof value === "number" || typeof value === "bigint"
        ? String(value)
        : "";
  const m = /^([+-]?)(\d*)(?:\.(\d*))?(?:[eE]([+-]?\d{1,3})|(Ki|Mi|Gi|Ti|Pi|Ei|[numkMGTPE])?)$/.exec(text);
  const whole = m?.[2] ?? "";
  const part = m?.[3] ?? "";
  if (m === null || whole + part === "") return undefined;
  const ten = 9 - part.length + (m[4] !== undefined ? Number(m[4]) : (DECIMAL[m[5] ?? ""] ?? 0));
  const n = BigInt(`${m[1]}${whole}${part}`) * 1024n ** BigInt(BINARY[m[5] ?? ""] ?? 0);
  if (ten >= 0) return n * 10n ** BigInt(ten);
  const d = 10n ** BigInt(-ten);
  return n > 0n ? (n + d - 1n) / d : n / d;
}

/**
 * An iqqq container from an earlier injection, in a pod that has come to run as root since: its own user,
 * as ownContainer() gives a new one. One that says a user of its own already keeps it.
 */
function ownUser(c: Container, spec: PodSpec): void {
  const user = ownContainer(spec).securityContext.runAsUser;
  const context = isObj(c.securityContext) ? c.securityContext : undefined;
  if (user === undefined || context?.runAsNonRoot !== true || context.runAsUser !== undefined) return;
  c.securityContext = { ...context, runAsUser: user };
}

/** Why no iqqq can run in a pod at all, for the webhook's decision and inject alike. */
export interface Unfit {
  readonly reason: "host-network" | "not-linux";
  readonly why: string;
}

/**
 * A pod iqqq must leave as it is, whoever asks: on the host's network its
 * localhost is the node's, so a quit would go to whatever listens there at a
 * sidecar's port (meshes inject no sidecar into such pods either); on another
 * OS than Linux (spec.os.name) iqqq cannot run, and the API server refuses
 * the Linux-only security fields of iqqq's containers.
 */
export function unfitPod(spec: unknown): Unfit | undefined {
  if (!isObj(spec)) return undefined;
  if (spec.hostNetwork === true)
    return {
      reason: "host-network",
      why: "the pod uses the host's network (hostNetwork: true): its localhost is the node's",
    };
  const os = isObj(spec.os) ? spec.os.name : undefined;
  if (os !== undefined && os !== null && os !== "linux")
    return {
      reason: "not-linux",
      why: `the pod runs on ${JSON.stringify(String(os)).slice(0, 65)} (spec.os.name), and iqqq only on Linux`,
    };
  return undefined;
}

/** An image's ENTRYPOINT and CMD, as its config holds them, and on which platform (none: one image for all). */
export interface ImageCommand {
  readonly entrypoint: readonly string[];
  readonly cmd: readonly string[];
  readonly platform?: string;
}

/** The node label a pod's nodeSelector names its nodes' architecture by (amd64, arm64…). */
export const ARCH_LABEL = "kubernetes.io/arch";
/** The platforms read when neither --platform nor the pod says which: the two iqqq's image is built for. */
export const BOTH_PLATFORMS: readonly string[] = ["linux/amd64", "linux/arm64"];

/** How iqqq reaches the job containers: copied into an emptyDir by an init container, or the image mounted. */
export type Volume = "emptydir" | "image";

/** Where the iqqq image keeps iqqq, its loader and libraries (the loader's path is built in). */
const IMAGE_SUBPATH = "opt/iqqq";

export interface InjectOptions {
  /** The iqqq image, for the init container (or the watcher). */
  readonly image: string;
  readonly mode: Mode;
  /** Wrapper mode: emptydir (default, any cluster) or image (an image volume, Kubernetes 1.33 and later). */
  readonly volume?: Volume;
  /**
   * For a container without a command: its image's ENTRYPOINT and CMD on each of `platforms` its
   * index has (registry/client.ts).
   */
  readonly imageCommand?: (image: string, platforms: readonly string[]) => Promise<readonly ImageCommand[]>;
  /** The platform whose image config is read (--platform); undefined: the pod's node architecture, else both. */
  readonly platform?: string | undefined;
  /** Watcher mode: the process to watch where no command or image says it. */
  readonly watch?: string | undefined;
}

export class InjectError extends Error {}

type Obj = Record<string, unknown>;

interface Container extends Obj {
  name: string;
  image?: string;
  command?: string[];
  args?: string[];
  env?: Obj[];
  volumeMounts?: Obj[];
}

interface PodSpec extends Obj {
  restartPolicy?: string;
  containers?: Container[];
  initContainers?: Container[];
  volumes?: Obj[];
  shareProcessNamespace?: boolean;
  hostPID?: boolean;
  nodeSelector?: unknown;
}

/** What inject did to one document, for the log. */
export interface Outcome {
  /** "Job/report", say. */
  readonly what: string;
  readonly kind: "injected" | "unchanged" | "skipped";
  readonly note?: string;
  /** What stands in the way of a pod that ends, or what inject changed besides adding itself. */
  readonly warnings?: readonly string[];
}

/** A pod in a document: its spec, and the object whose metadata is the pod's (the Pod, or a template). */
interface Pod {
  readonly spec: PodSpec;
  readonly holder: Obj;
  /** The kind of the workload that holds it (an item of a typed list may leave it out: the list's). */
  readonly kind: "Pod" | "Job" | "CronJob";
}

/**
 * The pods a workload holds: a Pod, a Job's template, a CronJob's job template, and those in a List.
 * `list`: the kind and apiVersion an item of a typed list takes when it leaves its own out, as
 * kubectl reads it (apimachinery's UnstructuredList: JobList's items are Jobs, of its apiVersion).
 */
function podsOf(doc: unknown, list?: { kind: string; apiVersion: unknown }): Pod[] {
  if (!isObj(doc)) return [];
  const at = (o: unknown, ...path: string[]): Obj | undefined => {
    let x: unknown = o;
    for (const key of path) x = isObj(x) ? x[key] : undefined;
    return isObj(x) ? x : undefined;
  };
  const pod = (holder: Obj | undefined, kind: Pod["kind"]): Pod[] => {
    const spec = at(holder, "spec");
    return holder !== undefined && spec !== undefined ? [{ spec: spec as PodSpec, holder, kind }] : [];
  };
  const kind = doc.kind === undefined || doc.kind === "" ? list?.kind : doc.kind;
  const version = doc.apiVersion === undefined || doc.apiVersion === "" ? list?.apiVersion : doc.apiVersion;
  // Kubernetes' own kinds only: a custom resource may be called Job too (apiVersion example.com/v1).
  switch (kind) {
    case "Pod":
      return ofGroup(version, "") ? pod(doc, "Pod") : [];
    case "Job":
      return ofGroup(version, "batch") ? pod(at(doc, "spec", "template"), "Job") : [];
    case "CronJob":
      return ofGroup(version, "batch") ? pod(at(doc, "spec", "jobTemplate", "spec", "template"), "CronJob") : [];
    default: {
      // kubectl reads any kind with `items` as a list (List, JobList, PodList…) and applies each item.
      if (!isListKind(kind) || !Array.isArray(doc.items)) return [];
      const item = kind === "List" ? undefined : { kind: (kind as string).slice(0, -4), apiVersion: version };
      return doc.items.flatMap((i) => podsOf(i, item));
    }
  }
}

/**
 * Whether an apiVersion is of this API group ("" the core group: "v1"). A document without one,
 * which kubectl refuses anyway, counts as Kubernetes' own, as before.
 */
function ofGroup(version: unknown, group: string): boolean {
  if (typeof version !== "string") return version === undefined;
  const slash = version.indexOf("/");
  return (slash < 0 ? "" : version.slice(0, slash)) === group;
}

/** List, or a typed list (JobList, PodList…): kubectl applies each of its items. */
function isListKind(kind: unknown): boolean {
  return typeof kind === "string" && kind.endsWith("List");
}

/** Whether a document of this kind may hold a pod spec (podsOf reads it); any other passes through. */
export function mayHoldPodSpec(kind: unknown): boolean {
  return kind === "Pod" || kind === "Job" || kind === "CronJob" || isListKind(kind);
}

export function describe(doc: unknown): string {
  if (!isObj(doc)) return "a document that is not a mapping";
  const meta = isObj(doc.metadata) ? doc.metadata : {};
  // A Job's pods reach the webhook with a generateName only ("report-").
  const name =
    typeof meta.name === "string"
      ? meta.name
      : typeof meta.generateName === "string"
        ? `${meta.generateName}…`
        : "(no name)";
  return `${typeof doc.kind === "string" ? doc.kind : "(no kind)"}/${name}`;
}

/**
 * Injects iqqq into one document, in place. Injecting twice changes nothing more. `original`, if given, is
 * the document as it was (an equal value, not the same object): whether anything changed is then read
 * from it, and no copy of each pod is made for that (inject's stream keeps one anyway, for its writer).
 */
export async function injectDocument(doc: unknown, options: InjectOptions, original?: unknown): Promise<Outcome> {
  const what = describe(doc);
  const kind = isObj(doc) ? doc.kind : undefined;
  if (!mayHoldPodSpec(kind))
    return { what, kind: "skipped", note: "not a Pod, Job or CronJob: passed through unchanged" };
  const pods = podsOf(doc);
  if (pods.length === 0) return { what, kind: "skipped", note: "no pod spec found: passed through unchanged" };
  for (const { spec } of pods) checkShape(spec, what);
  let changed = false;
  const warnings: string[] = [];
  for (const pod of pods) {
    const unfit = unfitPod(pod.spec);
    if (unfit !== undefined) {
      warnings.push(`${what}: not injected: ${unfit.why}`);
      continue;
    }
    const before = original === undefined ? copy(pod.holder as Value) : undefined;
    const said =
      options.mode === "wrapper" ? await injectWrapper(pod, options, what) : await injectWatcher(pod, options, what);
    warnings.push(...said.map((w) => `${what}: ${w}`));
    if (before !== undefined) changed ||= !same(pod.holder, before);
  }
  if (original !== undefined) changed = !same(doc, original);
  return { what, kind: changed ? "injected" : "unchanged", ...(warnings.length > 0 ? { warnings } : {}) };
}

/** The variables that tell iqqq about its pod: which sidecars, what port, whether the kubelet reruns the program. */
function podEnv(pod: Pod): {
  env: { name: string; value: string }[];
  secretEnv: readonly SecretVariable[];
  warnings: readonly string[];
} {
  const { spec, holder } = pod;
  const meta = podMeta(pod);
  const found = podSidecars(meta, userContainers(spec), spec.initContainers ?? []);
  const env = [
    ...(found.stop !== undefined ? [{ name: "IQQQ_SIDECARS", value: found.stop.join(",") }] : []),
    ...(found.present.length > 0 ? [{ name: "IQQQ_POD_SIDECARS", value: found.present.join(",") }] : []),
    ...found.env,
  ];
  // Linkerd's shutdown endpoint is off unless the pod asks for it (its injector reads the annotation).
  if (Object.keys(found.annotations).length > 0) {
    holder.metadata = {
      ...meta,
      annotations: { ...(isObj(meta.annotations) ? meta.annotations : {}), ...found.annotations },
    };
  }
  return { env, secretEnv: found.secretEnv, warnings: found.warnings };
}

/**
 * The fields inject reads and extends must have the types Kubernetes gives
 * them; a value YAML 1.1 read as something else (`command: [sleep, 1e3]`:
 * a number) would be refused by the API server anyway, so it is refused here,
 * with the place and the fix.
 */
function checkShape(spec: PodSpec, what: string): void {
  const fail = (path: string, value: unknown, want: string): never => {
    const got =
      value === null
        ? "null"
        : Array.isArray(value)
          ? "a list"
          : typeof value === "object"
            ? "a map"
            : typeof value === "bigint" || typeof value === "number"
              ? "a number"
              : `a ${typeof value}`;
    const hint =
      typeof value === "string" || typeof value === "object"
        ? ""
        : ` (YAML 1.1 reads what is written there as the ${got.replace(/^an? /, "")} ${String(value)}; quote it)`;
    throw new InjectError(`${what}: ${path} is ${got} where Kubernetes needs ${want}${hint}`);
  };
  const list = (value: unknown, path: string): unknown[] => {
    // A list left empty (`volumes:`, `env: ~`) is null, which Kubernetes takes for no list.
    if (value === undefined || value === null) return [];
    return Array.isArray(value) ? value : fail(path, value, "a list");
  };
  const map = (value: unknown, path: string): Obj => (isObj(value) ? value : fail(path, value, "a map"));
  const str = (value: unknown, path: string, optional = false): void => {
    if (typeof value !== "string" && !(optional && value === undefined)) fail(path, value, "a string");
  };
  const named = (value: unknown, path: string): Obj => {
    const m = map(value, path);
    str(m.name, `${path}.name`);
    return m;
  };
  for (const [i, v] of list(spec.volumes, "volumes").entries()) named(v, `volumes[${i}]`);
  for (const field of ["containers", "initContainers"] as const) {
    list(spec[field], field).forEach((value, i) => {
      const path = `${field}[${i}]`;
      const c = named(value, path);
      str(c.image, `${path}.image`, true);
      for (const words of ["command", "args"])
        for (const [j, w] of list(c[words], `${path}.${words}`).entries()) str(w, `${path}.${words}[${j}]`);
      for (const [j, e] of list(c.env, `${path}.env`).entries()) named(e, `${path}.env[${j}]`);
      list(c.volumeMounts, `${path}.volumeMounts`).forEach((m, j) => {
        named(m, `${path}.volumeMounts[${j}]`);
        str((m as Obj).mountPath, `${path}.volumeMounts[${j}].mountPath`);
      });
    });
  }
}

/** The job containers: every container but known sidecars (catalogue.ts's containerKinds) and iqqq's own. */
export function jobContainers(spec: PodSpec): Container[] {
  const candidates = userContainers(spec);
  const kinds = containerKinds(candidates);
  return candidates.filter((_, i) => kinds[i] === undefined);
}

/**
 * The pod's restartPolicy as the API server reads it: a Pod without one has
 * Always (its default); a Job's template must say Never or OnFailure.
 */
function restartPolicyOf(pod: Pod): unknown {
  return pod.spec.restartPolicy ?? (pod.kind === "Pod" ? "Always" : undefined);
}

/** The metadata of the pod (or of its template). */
function podMeta(pod: Pod): Obj {
  return isObj(pod.holder.metadata) ? pod.holder.metadata : {};
}

/** The pod's containers but iqqq's own watcher: the ones that are a job or a sidecar. */
function userContainers(spec: PodSpec): Container[] {
  return (spec.containers ?? []).filter((c) => c.name !== WATCHER_CONTAINER && !isWatcher(c));
}

/** A watcher of the user's own (examples/watcher): iqqq with IQQQ_WATCH_PROCESS or IQQQ_WATCH_PATTERN and no program. */
function isWatcher(c: Container): boolean {
  const watches = (c.env ?? []).some((e) => e.name === "IQQQ_WATCH_PROCESS" || e.name === "IQQQ_WATCH_PATTERN");
  return watches && (c.command === undefined || (isIqqq(c.command[0]) && c.command.length === 1 && !nonEmpty(c.args)));
}

async function injectWrapper(pod: Pod, options: InjectOptions, what: string): Promise<readonly string[]> {
  const { spec } = pod;
  const jobs = jobContainers(spec);
  if (jobs.length === 0) throw new InjectError(`${what}: no job container (only sidecars)`);
  // Injected before in the other mode: both would stop the sidecars, and the old watcher keep its image.
  if ((spec.containers ?? []).some((c) => c.name === WATCHER_CONTAINER))
    throw new InjectError(
      `${what}: it has iqqq's ${WATCHER_CONTAINER} container (injected with --mode watcher); inject it with --mode watcher again, or inject the manifest as it was before`,
    );
  // Every command first: a failed look-up leaves the document as it was.
  const commands = await Promise.all(
    jobs.map((c) => (isInjected(c) ? undefined : wrappedCommand(c, spec, options, what))),
  );
  // The containers that run the copy of iqqq, now or from an earlier injection.
  const ours = new Set(jobs.filter((c, i) => commands[i] !== undefined || c.command?.[0] === IQQQ));
  // Every job container brings its own iqqq (its image or command starts with it): nothing to add.
  if (ours.size === 0) return [];
  const names = ourNames(spec, [...ours]);
  const said: string[] = [];
  const group = jobs.length > 1 ? jobs.map((c) => c.name).join(",") : undefined;
  const byImage = options.volume === "image";
  // An image volume holds the whole image: the job containers mount its /opt/iqqq only.
  const iqqqMount: Obj = byImage
    ? { name: names.volume, mountPath: IQQQ_DIR, subPath: IMAGE_SUBPATH, readOnly: true }
    : { name: names.volume, mountPath: IQQQ_DIR, readOnly: true };
  // From an earlier injection with the other kind of volume: its mount is brought up to date.
  for (const c of ours) {
    const mount = (c.volumeMounts ?? []).find(
      (m) => m.name === names.volume && normalPath(String(m.mountPath ?? "")) === IQQQ_DIR,
    );
    if (mount === undefined || mount.subPath === iqqqMount.subPath) continue;
    if (byImage) mount.subPath = IMAGE_SUBPATH;
    else delete mount.subPath;
  }
  // Every mount first, so that a clash leaves the document as it was.
  const mounts = new Map<Container, Obj[]>(
    jobs.map((c) => [
      c,
      [
        ...(ours.has(c) ? [iqqqMount] : []),
        { name: names.podinfo, mountPath: PODINFO_DIR, readOnly: true },
        ...(group !== undefined ? [{ name: names.group, mountPath: GROUP_DIR }] : []),
      ].filter((m) => !hasMount(c, m, what)),
    ]),
  );
  const { env, secretEnv, warnings } = podEnv(pod);
  said.push(...warnings);
  const policy = restartPolicyOf(pod);
  const restart = policy === "OnFailure" || policy === "Always" ? policy : undefined;
  const install = (spec.initContainers ?? []).find((c) => c.name === INSTALL_CONTAINER);
  if (install !== undefined && !same(install.command, [IQQQ, "install", INSTALL_TARGET]))
    throw new InjectError(
      `${what}: it has an init container named ${INSTALL_CONTAINER} that is not iqqq's (its command is not ${IQQQ} install ${INSTALL_TARGET}); rename it`,
    );
  const volume = byImage
    ? { name: names.volume, image: { reference: options.image, pullPolicy: "IfNotPresent" } }
    : { name: names.volume, emptyDir: {} };
  const before = (spec.volumes ?? []).find((v) => v.name === names.volume);
  const mounted = isObj(before?.image) ? before.image.reference : undefined;
  if (typeof mounted === "string" && mounted !== options.image)
    said.push(`iqqq's image changed from ${mounted} to ${options.image} (volume ${names.volume})`);
  if (before !== undefined && !same(before, volume))
    spec.volumes = (spec.volumes ?? []).map((v) => (v === before ? volume : v));
  else addVolume(spec, volume);
  addVolume(spec, podinfoVolume(names.podinfo));
  if (byImage) {
    // Nothing to copy: an init container from an earlier injection goes.
    if (install !== undefined) {
      spec.initContainers = (spec.initContainers ?? []).filter((c) => c !== install);
      if (spec.initContainers.length === 0) delete spec.initContainers;
    }
  } else if (install !== undefined) {
    if (install.image !== options.image) {
      said.push(`iqqq's image changed from ${install.image} to ${options.image} (container ${INSTALL_CONTAINER})`);
      install.image = options.image;
    }
    ownUser(install, spec);
  }
  if (!byImage && install === undefined) {
    spec.initContainers = [
      {
        name: INSTALL_CONTAINER,
        image: options.image,
        command: [IQQQ, "install", INSTALL_TARGET],
        volumeMounts: [{ name: names.volume, mountPath: INSTALL_TARGET }],
        ...ownContainer(spec),
      },
      ...(spec.initContainers ?? []),
    ];
  }
  if (group !== undefined) addVolume(spec, { name: names.group, emptyDir: {} });
  jobs.forEach((c, i) => {
    const command = commands[i];
    if (command !== undefined) {
      c.command = command.command;
      if (command.args !== undefined) c.args = command.args;
    }
    const added = mounts.get(c) ?? [];
    if (added.length > 0) c.volumeMounts = [...(c.volumeMounts ?? []), ...added];
    const own = new Set((c.env ?? []).map((e) => e.name));
    for (const e of env) (FACTS.has(e.name) ? setEnv : addEnv)(c, e.name, e.value);
    for (const e of secretEnv) addEnvVar(c, e);
    // Facts about the pod are iqqq's to keep true: a pod injected before, then changed, gets them anew.
    if (restart !== undefined || (c.env ?? []).some((e) => e.name === "IQQQ_RESTART_POLICY"))
      setEnv(c, "IQQQ_RESTART_POLICY", restart ?? "Never");
    if (!env.some((e) => e.name === "IQQQ_POD_SIDECARS")) dropEnv(c, "IQQQ_POD_SIDECARS");
    if (group !== undefined) {
      setEnv(c, "IQQQ_GROUP", group);
      addEnv(c, "IQQQ_NAME", c.name);
      addEnv(c, "IQQQ_GROUP_DIR", GROUP_DIR);
    }
    // A ConfigMap or Secret it reads its environment from may set one of them too: env wins over
    // envFrom in the kubelet, and inject cannot read what envFrom holds. Said, by name.
    const ours = (c.env ?? []).map((e) => e.name).filter((name) => !own.has(name));
    if (Array.isArray(c.envFrom) && c.envFrom.length > 0 && ours.length > 0)
      said.push(
        `container ${c.name} takes variables from envFrom, which inject cannot read: ${ours.join(", ")}, added to its env, win over any of the same name there; set one in its env to keep your own`,
      );
  });
  return said;
}

async function injectWatcher(pod: Pod, options: InjectOptions, what: string): Promise<readonly string[]> {
  const { spec } = pod;
  const jobs = jobContainers(spec);
  // The pod has a watcher already: iqqq's own (its image kept up to date), or the user's.
  const watcher = (spec.containers ?? []).find((c) => c.name === WATCHER_CONTAINER);
  if (watcher !== undefined) {
    const said: string[] = [];
    if (watcher.image !== options.image) {
      said.push(`iqqq's image changed from ${watcher.image} to ${options.image} (container ${WATCHER_CONTAINER})`);
      watcher.image = options.image;
    }
    ownUser(watcher, spec);
    // Job containers added since: marked and counted too.
    if ((watcher.env ?? []).some((e) => e.name === "IQQQ_WATCH_CONTAINERS")) {
      const names = ourNames(spec, []);
      const mark = { name: names.job, mountPath: JOB_MARK, readOnly: true };
      for (const c of jobs.filter((j) => !hasMount(j, mark, what))) c.volumeMounts = [...(c.volumeMounts ?? []), mark];
      addVolume(spec, { name: names.job, emptyDir: {} });
      setEnv(watcher, "IQQQ_WATCH_CONTAINERS", String(jobs.length));
    }
    // A token the pod's sidecar has been given since (Dapr's), for the watcher's stop.
    for (const e of podSidecars(podMeta(pod), userContainers(spec), spec.initContainers ?? []).secretEnv)
      addEnvVar(watcher, e);
    return said;
  }
  if ((spec.containers ?? []).some(isWatcher)) return [];
  if (jobs.length === 0) throw new InjectError(`${what}: no job container (only sidecars)`);
  const wrapped = jobs.find((c) => c.command?.[0] === IQQQ);
  if (wrapped !== undefined)
    throw new InjectError(
      `${what}: container ${wrapped.name} runs iqqq's copy already (injected with --mode wrapper); inject it with --mode wrapper again, or inject the manifest as it was before`,
    );
  // By default the watcher follows the job containers themselves, each marked by a mount of its own
  // (watch/containers.ts), whatever their processes are called or exec into; --watch NAME watches a name.
  const names = ourNames(spec, []);
  const mark = { name: names.job, mountPath: JOB_MARK, readOnly: true };
  const marked = options.watch === undefined ? jobs.filter((c) => !hasMount(c, mark, what)) : [];
  const { env, secretEnv, warnings: found } = podEnv(pod);
  const warnings = [...found];
  if (restartPolicyOf(pod) === "OnFailure")
    warnings.push(
      "restartPolicy is OnFailure: a watcher cannot tell a failed run the kubelet will repeat from the last one, and stops the sidecars after the first; inject it as a wrapper (the default mode) instead",
    );
  // The API server refuses shareProcessNamespace with hostPID, whose host PID namespace already
  // shows the watcher every process.
  if (spec.hostPID !== true) spec.shareProcessNamespace = true;
  addVolume(spec, podinfoVolume(names.podinfo));
  if (options.watch === undefined) addVolume(spec, { name: names.job, emptyDir: {} });
  for (const c of marked) c.volumeMounts = [...(c.volumeMounts ?? []), mark];
  const watch =
    options.watch === undefined
      ? { name: "IQQQ_WATCH_CONTAINERS", value: String(jobs.length) }
      : { name: "IQQQ_WATCH_PROCESS", value: options.watch };
  spec.containers = [
    ...(spec.containers ?? []),
    {
      name: WATCHER_CONTAINER,
      image: options.image,
      command: [IQQQ],
      env: [watch, ...env, ...secretEnv.map((e) => ({ ...e }))],
      volumeMounts: [{ name: names.podinfo, mountPath: PODINFO_DIR, readOnly: true }],
      ...ownContainer(spec),
    },
  ];
  return warnings;
}

/** The volumes iqqq uses in this pod. */
interface Names {
  readonly volume: string;
  readonly podinfo: string;
  readonly group: string;
  /** Watcher mode: the mark of the job containers. */
  readonly job: string;
}

/**
 * The names of iqqq's volumes: those an earlier injection used (read from
 * iqqq-install's mount and the wrapped containers' mounts), else the usual
 * names, else, where a volume of the user's already has that name, the first
 * free one of name-2, name-3… A volume of the user's is never reused, but a
 * downward-API volume that already serves the pod's annotations at
 * /etc/podinfo is what iqqq would add.
 */
function ourNames(spec: PodSpec, wrapped: readonly Container[]): Names {
  const volumes = spec.volumes ?? [];
  const taken = new Set(volumes.map((v) => v.name));
  const free = (base: string): string => {
    for (let n = 1; ; n++) {
      const name = n === 1 ? base : `${base}-${n}`;
      if (!taken.has(name)) return name;
    }
  };
  const mountedAt = (containers: readonly Container[], path: string): string | undefined =>
    containers.flatMap((c) => c.volumeMounts ?? []).find((m) => normalPath(String(m.mountPath)) === path)?.name as
      | string
      | undefined;
  // Ours only if it is what iqqq adds: an emptyDir (install, group), the annotations (podinfo).
  const emptyDir = (name: string | undefined): string | undefined =>
    name !== undefined &&
    same(
      volumes.find((v) => v.name === name),
      { name, emptyDir: {} },
    )
      ? name
      : undefined;
  const annotations = (name: string | undefined): string | undefined =>
    name !== undefined &&
    same(
      volumes.find((v) => v.name === name),
      podinfoVolume(name),
    )
      ? name
      : undefined;
  // Ours only if it is what iqqq adds with --volume image: the image and its pull policy, nothing else.
  const image = (name: string | undefined): string | undefined => {
    const v = volumes.find((x) => x.name === name);
    return name !== undefined &&
      v !== undefined &&
      Object.keys(v).length === 2 &&
      isObj(v.image) &&
      typeof v.image.reference === "string" &&
      Object.keys(v.image).every((k) => k === "reference" || k === "pullPolicy")
      ? name
      : undefined;
  };
  const install = (spec.initContainers ?? []).filter((c) => c.name === INSTALL_CONTAINER);
  const watcher = (spec.containers ?? []).filter((c) => c.name === WATCHER_CONTAINER);
  return {
    volume: emptyDir(mountedAt(install, INSTALL_TARGET)) ?? image(mountedAt(wrapped, IQQQ_DIR)) ?? free(VOLUME),
    podinfo:
      annotations(mountedAt([...wrapped, ...watcher, ...jobContainers(spec)], PODINFO_DIR)) ?? free(PODINFO_VOLUME),
    group: emptyDir(mountedAt(wrapped, GROUP_DIR)) ?? free(GROUP_VOLUME),
    job: emptyDir(mountedAt(jobContainers(spec), JOB_MARK)) ?? free(JOB_VOLUME),
  };
}

/** A mount path as the kubelet takes it: `//opt/iqqq/` and `/opt/./iqqq` are /opt/iqqq. */
function normalPath(path: string): string {
  const parts: string[] = [];
  for (const part of path.split("/")) {
    if (part === "" || part === ".") continue;
    if (part === "..") parts.pop();
    else parts.push(part);
  }
  return `/${parts.join("/")}`;
}

/**
 * Does the container mount this already? A mount of something else at the
 * same path, or beneath it, is a clash that would break the pod (iqqq's loader
 * is built for /opt/iqqq; its annotations and group records have fixed homes):
 * refused, never reused.
 */
function hasMount(c: Container, mount: Obj, what: string): boolean {
  const path = mount.mountPath as string;
  for (const m of c.volumeMounts ?? []) {
    const at = normalPath(String(m.mountPath ?? ""));
    if (at === path && m.name === mount.name) return true;
    if (at === path || at.startsWith(`${path}/`))
      throw new InjectError(
        `${what}: container ${c.name} already mounts the volume ${JSON.stringify(m.name)} at ${at}, where iqqq needs its own ${path}; move that mount elsewhere`,
      );
  }
  return false;
}

/** Already wrapped: by inject, or by an image or command that starts with iqqq itself. */
function isInjected(c: Container): boolean {
  return isIqqq(c.command?.[0]);
}

function isIqqq(program: string | undefined): boolean {
  const name = program?.split("/").pop();
  return program === IQQQ || name === "iqqq" || name === "istio_quitquitquit";
}

/** The container's command with iqqq first, and its args when CMD must be spelt out. */
async function wrappedCommand(
  c: Container,
  spec: PodSpec,
  options: InjectOptions,
  what: string,
): Promise<{ command: string[]; args?: string[] } | undefined> {
  if (nonEmpty(c.command)) return { command: [...iqqqBefore(c.command[0]), ...c.command] };
  const image = await imageCommand(c, spec, options, what);
  // An ENTRYPOINT of [""] is none: the runtime then runs CMD (containerd's CRI, as Docker).
  const entrypoint = image.entrypoint.length === 1 && image.entrypoint[0] === "" ? [] : image.entrypoint;
  // An image whose ENTRYPOINT is iqqq already (docker/wrap.Dockerfile): nothing to add.
  if (isIqqq(entrypoint[0])) return undefined;
  // Without a command of its own the container runs ENTRYPOINT + (args, or else CMD).
  // Once command is set Kubernetes ignores CMD, so CMD becomes args.
  if (entrypoint.length === 0 && image.cmd.length === 0 && !nonEmpty(c.args))
    throw new InjectError(`${what}: container ${c.name}: its image ${c.image} has neither ENTRYPOINT nor CMD`);
  const program = entrypoint[0] ?? (nonEmpty(c.args) ? c.args[0] : image.cmd[0]);
  // The kubelet expands $(VAR) and $$ in command and args, never in an image's own ENTRYPOINT and CMD:
  // what comes from the image is escaped so that the container runs exactly that.
  return {
    command: [...iqqqBefore(program), ...entrypoint.map(escapeExpansion)],
    ...(nonEmpty(c.args) ? {} : { args: image.cmd.map(escapeExpansion) }),
  };
}

/**
 * iqqq, as the first words of a command that runs `program`: with `--` after
 * it where iqqq would read the program's name as its own (a command of its,
 * `install`…, or an option, `-x`), so that the program runs whatever it is called.
 */
function iqqqBefore(program: string | undefined): string[] {
  const taken =
    program !== undefined &&
    ((COMMAND_NAMES as readonly string[]).includes(program) || (program.startsWith("-") && program !== "-"));
  return taken ? [IQQQ, "--"] : [IQQQ];
}

/** Text the kubelet's $(VAR) expansion leaves as it is: every `$` doubled. */
export function escapeExpansion(word: string): string {
  return word.replaceAll("$", "$$$$");
}

/**
 * The ENTRYPOINT and CMD the container runs: its image's on the platform --platform names,
 * else on the pod's node architecture (nodeSelector kubernetes.io/arch), else on both
 * linux/amd64 and linux/arm64, which must then agree (the pod may run on either).
 */
async function imageCommand(c: Container, spec: PodSpec, options: InjectOptions, what: string): Promise<ImageCommand> {
  const where = `${what}: container ${c.name} has no command`;
  if (c.image === undefined) throw new InjectError(`${where} and no image`);
  if (options.imageCommand === undefined)
    throw new InjectError(`${where}, and its image's ENTRYPOINT cannot be looked up here`);
  const platforms = options.platform !== undefined ? [options.platform] : podPlatforms(spec, what);
  let found: readonly ImageCommand[];
  try {
    found = await options.imageCommand(c.image, platforms);
  } catch (err) {
    throw new InjectError(
      `${where}, and its image's ENTRYPOINT could not be read from ${registryOf(c.image)}: ${lookupFailure(err)}; give the container a command: (its image's ENTRYPOINT and CMD), or use --mode watcher, which changes no command and looks nothing up`,
    );
  }
  const [first, ...others] = found;
  if (first === undefined) throw new InjectError(`${where}, and its image ${c.image} was not found`);
  const other = others.find((o) => !sameWords(o.entrypoint, first.entrypoint) || !sameWords(o.cmd, first.cmd));
  if (other !== undefined)
    throw new InjectError(
      `${where}, and its image ${c.image} runs another ENTRYPOINT or CMD on ${first.platform} than on ${other.platform}; the pod does not say which its nodes are (nodeSelector, or required node affinity, on ${ARCH_LABEL}), so iqqq does not guess: give the container a command, or the pod a nodeSelector ${ARCH_LABEL}, or iqqq --platform`,
    );
  return first;
}

/**
 * The platforms the pod's nodes may have, as the scheduler reads its
 * kubernetes.io/arch: its nodeSelector (linux/ARCH), and the terms of its
 * required node affinity (any one term will do; in a term, every expression
 * must hold: In, NotIn, Exists, DoesNotExist). Where neither narrows it, both
 * of BOTH_PLATFORMS. A preferred affinity is only a preference: the pod may
 * still land elsewhere, so it narrows nothing.
 */
function podPlatforms(spec: PodSpec, what: string): readonly string[] {
  const platform = (arch: unknown, where: string): string => {
    const named = `linux/${String(arch)}`;
    if (typeof arch !== "string" || badPlatform(named) !== undefined)
      throw new InjectError(
        `${what}: its ${where} ${JSON.stringify(String(arch).slice(0, 63))} is not an architecture`,
      );
    return named;
  };
  const selector = isObj(spec.nodeSelector) ? spec.nodeSelector[ARCH_LABEL] : undefined;
  if (selector !== undefined && selector !== null) return [platform(selector, `nodeSelector ${ARCH_LABEL}`)];
  const affinity = isObj(spec.affinity) && isObj(spec.affinity.nodeAffinity) ? spec.affinity.nodeAffinity : {};
  const required = affinity.requiredDuringSchedulingIgnoredDuringExecution;
  const terms = isObj(required) && Array.isArray(required.nodeSelectorTerms) ? required.nodeSelectorTerms : [];
  const may = new Set<string>();
  for (const term of terms) {
    // Undefined: this term does not narrow the architecture; the pod may then land on either of both.
    let allowed: string[] | undefined;
    const refused = new Set<string>();
    const expressions = isObj(term) && Array.isArray(term.matchExpressions) ? term.matchExpressions : [];
    const fields = isObj(term) && Array.isArray(term.matchFields) ? term.matchFields : [];
    // An empty term matches no node.
    if (expressions.length === 0 && fields.length === 0) continue;
    for (const e of expressions) {
      if (!isObj(e) || e.key !== ARCH_LABEL) continue;
      const values = Array.isArray(e.values) ? e.values.map((v) => platform(v, `node affinity on ${ARCH_LABEL}`)) : [];
      if (e.operator === "In") allowed = (allowed ?? values).filter((v) => values.includes(v));
      else if (e.operator === "NotIn") for (const v of values) refused.add(v);
      // Every node has the label: no node satisfies DoesNotExist; nor Gt or Lt, which want a number.
      else if (e.operator === "DoesNotExist" || e.operator === "Gt" || e.operator === "Lt") allowed = [];
    }
    for (const p of allowed ?? BOTH_PLATFORMS) if (!refused.has(p)) may.add(p);
  }
  // No term, or none any node satisfies (the pod will not be scheduled): both.
  return may.size === 0 ? BOTH_PLATFORMS : [...may].sort();
}

function sameWords(a: readonly string[], b: readonly string[]): boolean {
  return a.length === b.length && a.every((w, i) => w === b[i]);
}

/** The registry host of an image reference, as the distribution spec reads it (Docker Hub when none). */
function registryOf(image: string): string {
  const first = image.split("/")[0] ?? "";
  return image.includes("/") && (first.includes(".") || first.includes(":") || first === "localhost")
    ? first
    : "docker.io";
}

/** Why a look-up failed, in words: DNS, refused, a status (401: credentials), a timeout, or the message. */
function lookupFailure(err: unknown): string {
  const e = err as Error & { code?: string; cause?: { code?: string; message?: string } };
  const code = e.code ?? e.cause?.code ?? "";
  const said = `${e.message} ${e.cause?.message ?? ""}`;
  if (e.name === "TimeoutError" || e.name === "AbortError" || /TIMEDOUT|Timeout/i.test(code))
    return `timed out (${e.message})`;
  if (/ECONNREFUSED|ConnectionRefused/.test(code) || /ECONNREFUSED|Unable to connect/i.test(said))
    return "connection refused";
  if (/ENOTFOUND|EAI_AGAIN|DNS/i.test(code) || /getaddrinfo/i.test(said))
    return `its name does not resolve (DNS: ${code || e.message})`;
  if (/: 401\b/.test(e.message))
    return `${e.message}: it wants credentials (docker login or podman login, or DOCKER_CONFIG / REGISTRY_AUTH_FILE)`;
  return e.cause?.message !== undefined ? `${e.message} (${e.cause.message})` : e.message;
}

function podinfoVolume(name: string): Obj {
  return {
    name,
    downwardAPI: { items: [{ path: "annotations", fieldRef: { fieldPath: "metadata.annotations" } }] },
  };
}

function addVolume(spec: PodSpec, volume: Obj): void {
  if (!(spec.volumes ?? []).some((v) => v.name === volume.name)) spec.volumes = [...(spec.volumes ?? []), volume];
}

function addEnv(c: Container, name: string, value: string): void {
  addEnvVar(c, { name, value });
}

/** A variable the container does not have yet, from wherever it would come (its own is kept). */
function addEnvVar(c: Container, variable: { readonly name: string; readonly value: string } | SecretVariable): void {
  if (!(c.env ?? []).some((e) => e.name === variable.name)) c.env = [...(c.env ?? []), { ...variable } as Obj];
}

/** Variables that state facts about the pod (what it has, its policy, its members): always iqqq's current reading. */
const FACTS = new Set(["IQQQ_POD_SIDECARS", "IQQQ_RESTART_POLICY", "IQQQ_GROUP", "IQQQ_WATCH_CONTAINERS"]);

function setEnv(c: Container, name: string, value: string): void {
  const at = (c.env ?? []).findIndex((e) => e.name === name);
  if (at < 0) c.env = [...(c.env ?? []), { name, value }];
  else if ((c.env as Obj[])[at]?.value !== value) (c.env as Obj[])[at] = { name, value };
}

function dropEnv(c: Container, name: string): void {
  if ((c.env ?? []).some((e) => e.name === name)) c.env = (c.env ?? []).filter((e) => e.name !== name);
}

function nonEmpty(list: readonly string[] | undefined): list is string[] {
  return Array.isArray(list) && list.length > 0;
}

function isObj(x: unknown): x is Obj {
  return typeof x === "object" && x !== null && !Array.isArray(x);
}
