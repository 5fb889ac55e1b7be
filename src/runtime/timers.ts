// Timers for any duration. Node's and Bun's timers hold at most 2^31−1 ms (about
// 24.8 days): Node fires a longer setTimeout after 1 ms (TimeoutOverflowWarning),
// and AbortSignal.timeout throws a RangeError past 2^32−1 ms. iqqq's durations
// are Go's, up to 290 years (QUIT_WITHOUT_ENVOY_TIMEOUT=597h is 2^31 ms), so a
// longer wait is a chain of shorter timers.

/** The longest delay a single timer holds. */
export const MAX_TIMER_MS = 2 ** 31 - 1;

export interface LaterOptions {
  /** false: the timer does not keep the process alive (as AbortSignal.timeout's). Default true. */
  readonly ref?: boolean;
}

/** Calls `fn` once `ms` have passed, however long that is; returns a cancel function. */
export function later(ms: number, fn: () => void, options: LaterOptions = {}): () => void {
  const deadline = Date.now() + ms;
  let timer: ReturnType<typeof setTimeout> | undefined;
  const arm = (): void => {
    const left = Math.max(0, deadline - Date.now());
    timer = left > MAX_TIMER_MS ? setTimeout(arm, MAX_TIMER_MS) : setTimeout(fn, left);
    if (options.ref === false) timer.unref();
  };
  arm();
  return () => clearTimeout(timer);
}

/** AbortSignal.timeout(ms) for any duration: aborted with a TimeoutError, never keeps the process alive. */
export function timeoutSignal(ms: number): AbortSignal {
  if (ms <= MAX_TIMER_MS) return AbortSignal.timeout(Math.max(0, ms));
  const controller = new AbortController();
  later(ms, () => controller.abort(new DOMException("The operation timed out.", "TimeoutError")), { ref: false });
  return controller.signal;
}
