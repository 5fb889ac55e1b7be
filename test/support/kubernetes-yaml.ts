// Kubernetes' own YAML decoder as a test oracle: test/support/k8s-yaml/main.go
// (sigs.k8s.io/yaml over go-yaml v2, from Debian's golang-k8s-sigs-yaml-dev),
// fed documents in batches (go-oracle.ts).

import { goOracle } from "./go-oracle.js";

const oracle = goOracle("k8s-yaml", { file: "sigs.k8s.io/yaml/yaml.go", debian: "golang-k8s-sigs-yaml-dev" });

export interface KubernetesRead {
  /** The JSON Kubernetes makes of the document (numbers beyond 2^53 lose precision in JSON.parse). */
  readonly json?: unknown;
  readonly error?: string;
  /** What strict decoding adds: duplicate keys (and, in go-yaml v2, merges that override a key). */
  readonly strict?: string;
  /**
   * A document that starts with `{`: as kubectl reads such a stream, as JSON (encoding/json), its
   * first object; kubectl before 1.31 has no YAML to fall back on where that fails.
   */
  readonly asJson?: { readonly json?: unknown; readonly error?: string };
}

/** Why the oracle cannot run here, or undefined when it can. */
export function oracleMissing(): string | undefined {
  return oracle.missing();
}

/** Each document as Kubernetes reads it. */
export function readAsKubernetes(docs: readonly string[]): KubernetesRead[] {
  const raw = oracle.run(docs) as KubernetesRead[];
  return raw.map((x) => ({
    ...(x.json !== undefined ? { json: x.json } : {}),
    ...(x.error !== undefined ? { error: x.error } : {}),
    ...(x.strict !== undefined ? { strict: x.strict } : {}),
    ...(x.asJson !== undefined ? { asJson: x.asJson } : {}),
  }));
}

/** The first document of a stream as Kubernetes reads it; throws with its error where it cannot. */
export function kubernetesDocument(doc: string): unknown {
  const [read] = readAsKubernetes([doc]);
  if (read?.error !== undefined) throw new Error(`Kubernetes cannot read it: ${read.error}`);
  return read?.json;
}
