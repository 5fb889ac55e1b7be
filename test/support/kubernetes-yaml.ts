// Kubernetes' own YAML decoder as a test oracle: test/support/k8s-yaml/main.go
// (sigs.k8s.io/yaml over go-yaml v2, from Debian's golang-k8s-sigs-yaml-dev),
// built once with the machine's Go into build/k8s-yaml and fed documents in
// batches. .ci/run installs golang-go and the package; elsewhere the tests
// that need it say how to get it.

import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, statSync } from "node:fs";
import { ROOT } from "./cli.js";

const SOURCE = `${ROOT}test/support/k8s-yaml`;
const BINARY = `${ROOT}build/k8s-yaml/k8s-yaml`;
const GOPATH = "/usr/share/gocode";

export interface KubernetesRead {
  /** The JSON Kubernetes makes of the document (numbers beyond 2^53 lose precision in JSON.parse). */
  readonly json?: unknown;
  readonly error?: string;
  /** What strict decoding adds: duplicate keys (and, in go-yaml v2, merges that override a key). */
  readonly strict?: string;
}

/** Why the oracle cannot run here, or undefined when it can. */
export function oracleMissing(): string | undefined {
  if (!existsSync(`${GOPATH}/src/sigs.k8s.io/yaml/yaml.go`))
    return "sigs.k8s.io/yaml is not installed: apt-get install golang-go golang-k8s-sigs-yaml-dev";
  if (spawnSync("go", ["version"]).status !== 0) return "go is not installed: apt-get install golang-go";
  return undefined;
}

function build(): void {
  const source = statSync(`${SOURCE}/main.go`).mtimeMs;
  if (existsSync(BINARY) && statSync(BINARY).mtimeMs >= source) return;
  mkdirSync(`${ROOT}build/k8s-yaml`, { recursive: true });
  const r = spawnSync("go", ["build", "-o", BINARY, "."], {
    cwd: SOURCE,
    env: { ...process.env, GO111MODULE: "off", GOPATH, GOCACHE: `${ROOT}build/k8s-yaml/cache`, GOFLAGS: "" },
    encoding: "utf8",
  });
  if (r.status !== 0) throw new Error(`building the Kubernetes YAML oracle failed: ${r.stderr}`);
}

/** Each document as Kubernetes reads it. */
export function readAsKubernetes(docs: readonly string[]): KubernetesRead[] {
  const missing = oracleMissing();
  if (missing !== undefined) throw new Error(missing);
  build();
  const r = spawnSync(BINARY, [], { input: JSON.stringify(docs), encoding: "utf8", maxBuffer: 1 << 30 });
  if (r.status !== 0) throw new Error(`the Kubernetes YAML oracle failed: ${r.stderr}`);
  const raw = JSON.parse(r.stdout) as { json?: unknown; error?: string; strict?: string }[];
  return raw.map((x) => ({
    ...(x.json !== undefined ? { json: x.json } : {}),
    ...(x.error !== undefined ? { error: x.error } : {}),
    ...(x.strict !== undefined ? { strict: x.strict } : {}),
  }));
}

/** The first document of a stream as Kubernetes reads it; throws with its error where it cannot. */
export function kubernetesDocument(doc: string): unknown {
  const [read] = readAsKubernetes([doc]);
  if (read?.error !== undefined) throw new Error(`Kubernetes cannot read it: ${read.error}`);
  return read?.json;
}
