// The reliability suite's figures. Each test records what it tried and what it
// saw; with IQQQ_FIGURES_DIR set (npm run reliability) every record is written
// there as one JSON file, which report.ts turns into docs/reliability.md.

import { writeFileSync } from "node:fs";
import { join } from "node:path";

export type Figure = Readonly<Record<string, string | number | boolean | readonly (string | number)[]>>;

/** Records one figure under a unique key (a file name). Figures are counts of what really ran. */
export function record(key: string, figure: Figure): void {
  const dir = process.env.IQQQ_FIGURES_DIR;
  if (dir === undefined || dir === "") return;
  writeFileSync(join(dir, `${key}.json`), `${JSON.stringify(figure)}\n`);
}
