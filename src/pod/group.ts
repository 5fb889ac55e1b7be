// Several job containers in one pod, "last one out": each runs iqqq with the
// same IQQQ_GROUP_DIR (a shared emptyDir), the same IQQQ_GROUP (every member's
// name) and its own IQQQ_NAME. When its program ends, each writes its exit
// status there atomically (a temporary file renamed into place), then looks for
// every member's: only a member that finds them all stops the sidecars. Each
// writes before it looks, so the last to finish always sees every record (two
// finishing at once may both stop: a second quit is harmless).

import type { GroupPlan } from "../config/config.js";
import { builtin } from "../runtime/builtins.js";

export type GroupResult =
  /** Every member has finished: this one stops the sidecars. failed: any member's status was not 0. */
  | { readonly kind: "last"; readonly failed: readonly string[] }
  /** Others are still running: they will stop the sidecars. */
  | { readonly kind: "waiting"; readonly running: readonly string[] }
  /** The record could not be written: the caller stops the sidecars rather than risk a pod that never ends. */
  | { readonly kind: "unrecorded"; readonly message: string };

/**
 * A member that starts (again: the kubelet reruns a failed container under
 * restartPolicy OnFailure) removes its record, so that no other member counts
 * it as finished while it runs.
 */
export function clearRecord(plan: GroupPlan, log: { warn(message: string): void }): void {
  try {
    builtin("node:fs").unlinkSync(inDir(plan.dir, `${plan.name}.exit`));
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code !== "ENOENT") log.warn(`cannot clear this member's earlier record in ${plan.dir}: ${code ?? err}`);
  }
}

export function recordAndCheck(plan: GroupPlan, status: number): GroupResult {
  const file = inDir(plan.dir, `${plan.name}.exit`);
  // A name nobody can guess, created exclusively (O_CREAT|O_EXCL never follows a planted symlink), then renamed
  // over the record (rename replaces a symlink itself, never its target).
  const temporary = inDir(plan.dir, `.${plan.name}.exit.${process.pid}.${randomHex()}`);
  try {
    builtin("node:fs").writeFileSync(temporary, `${JSON.stringify({ status, at: new Date().toISOString() })}\n`, {
      flag: "wx",
      mode: 0o644,
    });
    builtin("node:fs").renameSync(temporary, file);
  } catch (err) {
    return { kind: "unrecorded", message: `cannot record this member's end in ${plan.dir}: ${(err as Error).message}` };
  }
  const running: string[] = [];
  const failed: string[] = [];
  for (const member of plan.members) {
    let text: string;
    try {
      text = builtin("node:fs").readFileSync(inDir(plan.dir, `${member}.exit`), "utf8");
    } catch {
      running.push(member);
      continue;
    }
    let recorded: number | undefined;
    try {
      recorded = (JSON.parse(text) as { status?: number }).status;
    } catch {
      recorded = undefined;
    }
    if (recorded !== 0) failed.push(member);
  }
  return running.length > 0 ? { kind: "waiting", running } : { kind: "last", failed };
}

/** Unpredictable enough from another container (node:crypto would cost the wrapper's start-up). */
function randomHex(): string {
  return `${process.hrtime.bigint().toString(36)}${Math.random().toString(36).slice(2)}`;
}

/** dir/name, as path.join for an absolute dir and a plain name (node:path costs the executable's start-up). */
function inDir(dir: string, name: string): string {
  return `${dir.replace(/\/+$/, "")}/${name}`;
}
