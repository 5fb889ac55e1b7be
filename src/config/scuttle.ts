// scuttle's rules for what to stop, apart from iqqq's: iqqq invoked under the
// name "scuttle" is a drop-in for it (docs/migrating.md, "Drop-in for scuttle").

export interface ScuttleInputs {
  readonly envoyAdminApi: URL | undefined;
  readonly envoyLocal: boolean;
  readonly istioQuitApi: URL | undefined;
  readonly disabled: boolean;
  readonly neverKill: boolean;
}

/**
 * scuttle's kill(): nothing unless ENVOY_ADMIN_API is set and local; then
 * ISTIO_QUIT_API, else its pkill fallback. iqqq adds Envoy's own quit in that
 * case, since pkill cannot see pilot-agent without shareProcessNamespace.
 */
export function scuttleStop<T extends object>(
  o: ScuttleInputs,
  istio: T,
  envoy: T,
  pilotAgent: T,
): { skipReason: string | undefined; targets: T[] } {
  const skipReason =
    o.envoyAdminApi === undefined
      ? "ENVOY_ADMIN_API is not set (scuttle)"
      : !o.envoyLocal
        ? "ENVOY_ADMIN_API is not a loopback address (scuttle)"
        : o.disabled
          ? "DISABLE_IQQQ is true"
          : o.neverKill
            ? "NEVER_KILL_ISTIO is true"
            : undefined;
  // pilot-agent is only visible with shareProcessNamespace; Envoy's quit does the work without it.
  const targets: T[] = o.istioQuitApi !== undefined ? [istio] : [envoy, { ...pilotAgent, optional: true }];
  return { skipReason, targets };
}
