// A promise resolved from outside it, for an answer that arrives in callbacks.

export interface Resolvable<T> {
  readonly promise: Promise<T>;
  readonly resolve: (value: T) => void;
  readonly reject: (reason: unknown) => void;
}

/**
 * A promise and its resolve and reject functions. Promise.withResolvers where the runtime
 * has it: the executable's engine, JavaScriptCore, compiles the Promise
 * constructor from its JavaScript source the first time it runs, about 0.1 ms
 * on the path from the program's exit to iqqq's own (docs/performance-notes.md,
 * "The executable's start path"); withResolvers is native. Node 20 has only
 * the constructor.
 */
export function resolvable<T>(): Resolvable<T> {
  // ES2024, which the build's target (ES2022, for Node 20) does not type.
  const native = (Promise as { withResolvers?: () => Resolvable<unknown> }).withResolvers;
  if (native !== undefined) return native.call(Promise) as Resolvable<T>;
  let resolve: (value: T) => void = () => {};
  let reject: (reason: unknown) => void = () => {};
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}
