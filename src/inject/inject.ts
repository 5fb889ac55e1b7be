// Puts iqqq into workloads without rebuilding their images, the way kubexit,
// Argo's emissary and Tekton's entrypoint do: an init container copies iqqq
// (the iqqq image's self-contained /opt/iqqq) into an emptyDir, and each job
// container's command is prefixed with it. Or, in watcher mode, a watcher
// container in a shared process namespace. Pure: objects in, objects out; the
// image look-up for a container without a command is passed in.

import { SIDECARS } from "../sidecar/catalogue.js";

/** Where the copy of /opt/iqqq is mounted in a job container: the path its loader was patched to. */
export const IQQQ_DIR = "/opt/iqqq";
export const IQQQ = `${IQQQ_DIR}/iqqq`;
export const VOLUME = "iqqq";
export const PODINFO_VOLUME = "iqqq-podinfo";
export const GROUP_VOLUME = "iqqq-group";
export const INSTALL_CONTAINER = "iqqq-install";
export const WATCHER_CONTAINER = "iqqq-watcher";
const INSTALL_TARGET = "/iqqq-install";
const PODINFO_DIR = "/etc/podinfo";
const GROUP_DIR = "/run/iqqq-group";

export type Mode = "wrapper" | "watcher";

/**
 * What iqqq's own containers (iqqq-install, iqqq-watcher) run with: the
 * "restricted" Pod Security Standard (so a namespace that enforces it admits
 * the pod), a non-root user of the FROM-scratch image (an emptyDir is writable
 * by all), and resources for namespaces whose quota demands them (the Bun
 * executable's peak RSS is about 40 MB).
 */
function ownContainer() {
  return {
    securityContext: {
      runAsNonRoot: true,
      runAsUser: 65532,
      runAsGroup: 65532,
      allowPrivilegeEscalation: false,
      readOnlyRootFilesystem: true,
      capabilities: { drop: ["ALL"] },
      seccompProfile: { type: "RuntimeDefault" },
    },
    resources: { requests: { cpu: "10m", memory: "32Mi" }, limits: { memory: "128Mi" } },
  };
}

/** An image's ENTRYPOINT and CMD, as its config holds them. */
export interface ImageCommand {
  readonly entrypoint: readonly string[];
  readonly cmd: readonly string[];
}

export interface InjectOptions {
  /** The iqqq image, for the init container (or the watcher). */
  readonly image: string;
  readonly mode: Mode;
  /** For a container without a command: its image's ENTRYPOINT and CMD (registry.ts). */
  readonly imageCommand?: (image: string) => Promise<ImageCommand>;
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
  containers?: Container[];
  initContainers?: Container[];
  volumes?: Obj[];
  shareProcessNamespace?: boolean;
}

/** What inject did to one document, for the log. */
export interface Outcome {
  /** "Job/report", say. */
  readonly what: string;
  readonly kind: "injected" | "unchanged" | "skipped";
  readonly note?: string;
}

/** The pod specs a workload holds: a Pod's, a Job's template's, a CronJob's job template's. */
export function podSpecsOf(doc: unknown): PodSpec[] {
  if (!isObj(doc)) return [];
  const spec = (o: unknown, ...path: string[]): PodSpec | undefined => {
    let at: unknown = o;
    for (const key of path) at = isObj(at) ? at[key] : undefined;
    return isObj(at) ? (at as PodSpec) : undefined;
  };
  switch (doc.kind) {
    case "Pod":
      return [spec(doc, "spec")].filter(isObj) as PodSpec[];
    case "Job":
      return [spec(doc, "spec", "template", "spec")].filter(isObj) as PodSpec[];
    case "CronJob":
      return [spec(doc, "spec", "jobTemplate", "spec", "template", "spec")].filter(isObj) as PodSpec[];
    case "List":
      return Array.isArray(doc.items) ? doc.items.flatMap(podSpecsOf) : [];
    default:
      return [];
  }
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

/** Injects iqqq into one document, in place. Injecting twice changes nothing more. */
export async function injectDocument(doc: unknown, options: InjectOptions): Promise<Outcome> {
  const what = describe(doc);
  const kind = isObj(doc) ? doc.kind : undefined;
  if (kind !== "Pod" && kind !== "Job" && kind !== "CronJob" && kind !== "List")
    return { what, kind: "skipped", note: "not a Pod, Job or CronJob: passed through unchanged" };
  const specs = podSpecsOf(doc);
  if (specs.length === 0) return { what, kind: "skipped", note: "no pod spec found: passed through unchanged" };
  let changed = false;
  for (const spec of specs) {
    const before = JSON.stringify(spec);
    if (options.mode === "wrapper") await injectWrapper(spec, options, what);
    else await injectWatcher(spec, options, what);
    changed ||= JSON.stringify(spec) !== before;
  }
  return { what, kind: changed ? "injected" : "unchanged" };
}

/** The job containers: every container but known sidecars and iqqq's own. */
export function jobContainers(spec: PodSpec): Container[] {
  return (spec.containers ?? []).filter((c) => c.name !== WATCHER_CONTAINER && !SIDECARS.some((s) => s.container(c)));
}

async function injectWrapper(spec: PodSpec, options: InjectOptions, what: string): Promise<void> {
  const jobs = jobContainers(spec);
  if (jobs.length === 0) throw new InjectError(`${what}: no job container (only sidecars)`);
  // Every command first: a failed look-up leaves the document as it was.
  const commands = await Promise.all(jobs.map((c) => (isInjected(c) ? undefined : wrappedCommand(c, options, what))));
  // The containers that run the copy of iqqq, now or from an earlier injection.
  const ours = new Set(jobs.filter((c, i) => commands[i] !== undefined || c.command?.[0] === IQQQ));
  // Every job container brings its own iqqq (its image or command starts with it): nothing to add.
  if (ours.size === 0) return;
  addVolume(spec, { name: VOLUME, emptyDir: {} });
  addVolume(spec, podinfoVolume());
  if (!(spec.initContainers ?? []).some((c) => c.name === INSTALL_CONTAINER)) {
    spec.initContainers = [
      {
        name: INSTALL_CONTAINER,
        image: options.image,
        command: [IQQQ, "install", INSTALL_TARGET],
        volumeMounts: [{ name: VOLUME, mountPath: INSTALL_TARGET }],
        ...ownContainer(),
      },
      ...(spec.initContainers ?? []),
    ];
  }
  const group = jobs.length > 1 ? jobs.map((c) => c.name).join(",") : undefined;
  if (group !== undefined) addVolume(spec, { name: GROUP_VOLUME, emptyDir: {} });
  jobs.forEach((c, i) => {
    const command = commands[i];
    if (command !== undefined) {
      c.command = command.command;
      if (command.args !== undefined) c.args = command.args;
    }
    if (ours.has(c)) addMount(c, { name: VOLUME, mountPath: IQQQ_DIR, readOnly: true });
    addMount(c, { name: PODINFO_VOLUME, mountPath: PODINFO_DIR, readOnly: true });
    if (group !== undefined) {
      addMount(c, { name: GROUP_VOLUME, mountPath: GROUP_DIR });
      addEnv(c, "IQQQ_GROUP", group);
      addEnv(c, "IQQQ_NAME", c.name);
      addEnv(c, "IQQQ_GROUP_DIR", GROUP_DIR);
    }
  });
}

async function injectWatcher(spec: PodSpec, options: InjectOptions, what: string): Promise<void> {
  const jobs = jobContainers(spec);
  if (jobs.length === 0) throw new InjectError(`${what}: no job container (only sidecars)`);
  if ((spec.containers ?? []).some((c) => c.name === WATCHER_CONTAINER)) return;
  const names = await Promise.all(jobs.map((c) => processName(c, options, what)));
  spec.shareProcessNamespace = true;
  addVolume(spec, podinfoVolume());
  spec.containers = [
    ...(spec.containers ?? []),
    {
      name: WATCHER_CONTAINER,
      image: options.image,
      command: [IQQQ],
      env: [{ name: "IQQQ_WATCH_PROCESS", value: [...new Set(names)].join(",") }],
      volumeMounts: [{ name: PODINFO_VOLUME, mountPath: PODINFO_DIR, readOnly: true }],
      ...ownContainer(),
    },
  ];
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
  options: InjectOptions,
  what: string,
): Promise<{ command: string[]; args?: string[] } | undefined> {
  if (nonEmpty(c.command)) return { command: [IQQQ, ...c.command] };
  const image = await imageCommand(c, options, what);
  // An image whose ENTRYPOINT is iqqq already (docker/wrap.Dockerfile): nothing to add.
  if (isIqqq(image.entrypoint[0])) return undefined;
  // Without a command of its own the container runs ENTRYPOINT + (args, or else CMD).
  // Once command is set Kubernetes ignores CMD, so CMD becomes args.
  if (image.entrypoint.length === 0 && image.cmd.length === 0 && !nonEmpty(c.args))
    throw new InjectError(`${what}: container ${c.name}: its image ${c.image} has neither ENTRYPOINT nor CMD`);
  return { command: [IQQQ, ...image.entrypoint], ...(nonEmpty(c.args) ? {} : { args: [...image.cmd] }) };
}

/** The name of the process a watcher waits for: the last part of the container's argv[0]. */
async function processName(c: Container, options: InjectOptions, what: string): Promise<string> {
  let argv0: string | undefined = c.command?.[0];
  if (argv0 === undefined && options.watch !== undefined) return options.watch;
  if (argv0 === undefined) {
    const image = await imageCommand(c, options, what, "or give the process to watch with --watch NAME");
    argv0 = image.entrypoint[0] ?? (nonEmpty(c.args) ? c.args[0] : image.cmd[0]);
  }
  const name = argv0?.split("/").pop();
  if (name === undefined || name === "")
    throw new InjectError(`${what}: container ${c.name}: no program to watch; give it with --watch NAME`);
  return name;
}

async function imageCommand(c: Container, options: InjectOptions, what: string, hint = ""): Promise<ImageCommand> {
  const where = `${what}: container ${c.name} has no command`;
  if (c.image === undefined) throw new InjectError(`${where} and no image`);
  if (options.imageCommand === undefined)
    throw new InjectError(`${where}, and its image's ENTRYPOINT cannot be looked up here${hint ? `; ${hint}` : ""}`);
  try {
    return await options.imageCommand(c.image);
  } catch (err) {
    throw new InjectError(
      `${where}, and its image's ENTRYPOINT could not be read: ${(err as Error).message}${hint ? `; ${hint}` : ""}`,
    );
  }
}

function podinfoVolume(): Obj {
  return {
    name: PODINFO_VOLUME,
    downwardAPI: { items: [{ path: "annotations", fieldRef: { fieldPath: "metadata.annotations" } }] },
  };
}

function addVolume(spec: PodSpec, volume: Obj): void {
  if (!(spec.volumes ?? []).some((v) => v.name === volume.name)) spec.volumes = [...(spec.volumes ?? []), volume];
}

function addMount(c: Container, mount: Obj): void {
  const mounts = c.volumeMounts ?? [];
  if (mounts.some((m) => m.mountPath === mount.mountPath || m.name === mount.name)) return;
  c.volumeMounts = [...mounts, mount];
}

function addEnv(c: Container, name: string, value: string): void {
  if (!(c.env ?? []).some((e) => e.name === name)) c.env = [...(c.env ?? []), { name, value }];
}

function nonEmpty(list: readonly string[] | undefined): list is string[] {
  return Array.isArray(list) && list.length > 0;
}

function isObj(x: unknown): x is Obj {
  return typeof x === "object" && x !== null && !Array.isArray(x);
}
