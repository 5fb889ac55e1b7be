// The YAML library (the `yaml` package), for `iqqq inject` only: imported when
// inject runs, never on the wrapper's path. In dist/iqqq.mjs it travels inside
// inject's gzipped string (scripts/build.mjs; about 115 KiB of JavaScript that
// would otherwise be parsed at every start, 7 ms); in the Bun executable it is
// a chunk of its own.

export type Yaml = typeof import("yaml");

export function loadYaml(): Promise<Yaml> {
  return import("yaml");
}
