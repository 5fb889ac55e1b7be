// Replaced at bundle time with package.json's version (scripts/build.mjs).
declare const __IQQQ_VERSION__: string | undefined;
export const VERSION: string = typeof __IQQQ_VERSION__ === "string" ? __IQQQ_VERSION__ : "0.0.0-dev";
