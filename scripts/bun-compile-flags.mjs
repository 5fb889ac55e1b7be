// The flags `bun build --compile` gets for iqqq's executables
// (scripts/build-binaries.mjs), shared with npm run bench, which compiles its
// Bun floor (bench/floor/bun.ts) with the same ones: what the executable is
// set against must start the way it does.

/** @param {string} version @returns {string[]} */
export function bunCompileFlags(version) {
  return [
    // ESM with code splitting: the modules loaded on demand (watcher, plugins,
    // --explain) stay apart instead of every module being wrapped in a lazy
    // initialiser, whose hundreds of calls woke the JIT compiler (a thread and
    // about 5 ms of CPU at start-up).
    "--format=esm",
    "--splitting",
    "--minify",
    // Precompiled to JavaScriptCore bytecode: start-up drops from about 21 ms
    // to about 9 ms here (issue 13; measured by npm run bench), for ~2.5 MB.
    "--bytecode",
    `--define=__IQQQ_VERSION__=${JSON.stringify(version)}`,
    // A compiled Bun executable otherwise reads .env and bunfig.toml from the
    // working directory: a stray .env could set ISTIO_PORT or DISABLE_IQQQ,
    // which the Node bundle would never see.
    "--no-compile-autoload-dotenv",
    "--no-compile-autoload-bunfig",
    // Any exec argv makes the executable start from a deleted working
    // directory (Bun 1.4 otherwise refuses at once, exit 1, before our code
    // runs); --no-addons is one iqqq has no use against: no native addons.
    "--compile-exec-argv=--no-addons",
  ];
}
