// Per-file fake sidecars for end-to-end tests, closed when the file's tests end.

import { after, before } from "node:test";
import { type FakeSidecar, type FakeSidecarOptions, startFakeSidecar } from "./fake-sidecar.js";

/** The one variable that tells iqqq it runs in Kubernetes. */
export const K8S = { KUBERNETES_SERVICE_HOST: "10.96.0.1" } as const;

/** Returns a starter of fake sidecars that are all closed after the calling test file. */
export function fakeSidecars(): (options?: FakeSidecarOptions) => Promise<FakeSidecar> {
  const started: FakeSidecar[] = [];
  after(() => Promise.all(started.map((s) => s.close())));
  return async (options = {}) => {
    const sidecar = await startFakeSidecar(options);
    started.push(sidecar);
    return sidecar;
  };
}

/** A loopback port that nothing listens on: bound, then released. */
export async function closedPort(): Promise<number> {
  const s = await startFakeSidecar();
  await s.close();
  return s.port;
}

/**
 * One fake pilot-agent for a whole test file, kept up after each quit so that it
 * counts the stops of many runs; `env` points iqqq at it.
 */
export function sharedSidecar(): { readonly sidecar: FakeSidecar; readonly env: Record<string, string> } {
  const shared = {} as { sidecar: FakeSidecar; env: Record<string, string> };
  before(async () => {
    shared.sidecar = await startFakeSidecar({ stayAfterQuit: true });
    shared.env = { ...K8S, ISTIO_PORT: String(shared.sidecar.port) };
  });
  after(() => shared.sidecar.close());
  return shared;
}
