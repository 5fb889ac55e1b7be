// The YAML library (the `yaml` package), for `iqqq inject` only: imported when
// inject runs, never on the wrapper's path. In dist/iqqq.mjs it is a gzipped
// string that scripts/build.mjs embeds and that is inflated on this import
// (about 115 KiB of JavaScript would otherwise be parsed at every start, 7 ms);
// in the Bun executable it is a chunk of its own.

export type Yaml = typeof import("yaml");

export function loadYaml(): Promise<Yaml> {
  return import("yaml");
}
