// Several job containers in one pod, "last one out": each runs iqqq with the
// same IQQQ_GROUP_DIR (a shared emptyDir), the same IQQQ_GROUP (every member's
// name) and its own IQQQ_NAME. When its program ends, each writes its exit
// status there atomically (a temporary file renamed into place), then looks for
// every member's: only a member that finds them all stops the sidecars. Each
// writes before it looks, so the last to finish always sees every record (two
// finishing at once may both stop: a second quit is harmless).

import { builtin } from "../runtime/builtins.js";

export interface GroupPlan {
  readonly dir: string;
  readonly members: readonly string[];
  readonly name: string;
}

export type GroupResult =
  /** Every member has finished: this one stops the sidecars. failed: any member's status was not 0. */
  | { readonly kind: "last"; readonly failed: readonly string[] }
  /** Others are still running: they will stop the sidecars. */
  | { readonly kind: "waiting"; readonly running: readonly string[] }
  /** The record could not be written: the caller stops the sidecars rather than risk a pod that never ends. */
  | { readonly kind: "unrecorded"; readonly message: string };

/** Container names: DNS labels. */
export const MEMBER_NAME = /^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/;

export function recordAndCheck(plan: GroupPlan, status: number): GroupResult {
  const file = inDir(plan.dir, `${plan.name}.exit`);
  const temporary = inDir(plan.dir, `.${plan.name}.exit.${process.pid}`);
  try {
    builtin("node:fs").writeFileSync(temporary, `${JSON.stringify({ status, at: new Date().toISOString() })}\n`);
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

/** dir/name, as path.join for an absolute dir and a plain name (node:path costs the executable's start-up). */
function inDir(dir: string, name: string): string {
  return `${dir.replace(/\/+$/, "")}/${name}`;
}
