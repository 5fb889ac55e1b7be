// Test oracles written in Go against the Kubernetes ecosystem's own packages
// (Debian's golang-* packages, built offline with GO111MODULE=off): each is
// test/support/NAME/main.go, built once into build/NAME/NAME, fed JSON on
// stdin, answering JSON on stdout. .ci/run installs Go and the packages;
// elsewhere the tests that need one say how to get it.

import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, statSync } from "node:fs";
import { ROOT } from "./cli.js";

export const GOPATH = "/usr/share/gocode";

export interface GoOracle {
  /** Why it cannot run here, or undefined when it can. */
  missing(): string | undefined;
  /** Runs it on `input` (as JSON), and returns what it answers (parsed). */
  run(input: unknown): unknown;
}

/** `needs`: a file of the Go package it builds against, and the Debian package that has it (none for the standard library). */
export function goOracle(name: string, needs?: { file: string; debian: string }): GoOracle {
  const source = `${ROOT}test/support/${name}`;
  const binary = `${ROOT}build/${name}/${name}`;
  const missing = (): string | undefined => {
    if (needs !== undefined && !existsSync(`${GOPATH}/src/${needs.file}`))
      return `${needs.file} is not installed: apt-get install golang-go ${needs.debian}`;
    if (spawnSync("go", ["version"]).status !== 0) return "go is not installed: apt-get install golang-go";
    return undefined;
  };
  const build = (): void => {
    if (existsSync(binary) && statSync(binary).mtimeMs >= statSync(`${source}/main.go`).mtimeMs) return;
    mkdirSync(`${ROOT}build/${name}`, { recursive: true });
    const r = spawnSync("go", ["build", "-o", binary, "."], {
      cwd: source,
      env: { ...process.env, GO111MODULE: "off", GOPATH, GOCACHE: `${ROOT}build/${name}/cache`, GOFLAGS: "" },
      encoding: "utf8",
    });
    if (r.status !== 0) throw new Error(`building the ${name} oracle failed: ${r.stderr}`);
  };
  return {
    missing,
    run(input) {
      const why = missing();
      if (why !== undefined) throw new Error(why);
      build();
      const r = spawnSync(binary, [], { input: JSON.stringify(input), encoding: "utf8", maxBuffer: 1 << 30 });
      if (r.status !== 0) throw new Error(`the ${name} oracle failed: ${r.stderr}`);
      return JSON.parse(r.stdout);
    },
  };
}
