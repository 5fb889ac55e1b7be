// Room for reviews in memory (command.ts): a review waits for it, unread, in
// order, or gives up; its room comes back when its answer is done or its
// connection goes, whether it was waiting or let in.

import type { Answer } from "./transport.js";

/** Emitted on an answer whose connection went before it was out (connections.ts). */
export const GONE = "iqqq:gone";

/**
 * Calls `done` once, when the answer has gone out ("finish") or its connection
 * went first ("close", or GONE). All three: Bun's HTTP server emits no "close"
 * for an answer on a connection kept alive (seen with Go's client, as the API
 * server's), and Node's none for an answer queued behind another when the
 * client goes; room or a timer waiting for it would never come back.
 */
export function onAnswered(res: Answer, done: () => void): void {
  let called = false;
  const once = (): void => {
    if (called) return;
    called = true;
    res.removeListener("finish", once);
    res.removeListener("close", once);
    res.removeListener(GONE, once);
    done();
  };
  res.once("finish", once);
  res.once("close", once);
  res.once(GONE, once);
}

interface Waiting {
  readonly units: number;
  readonly go: () => void;
}

/**
 * Room for reviews in memory: at most `units` (bytes) and `count` reviews at
 * once; a review waits (unread) for room, in order, or gives up after its wait.
 * Its room is given back when its answer is done or its connection goes,
 * whether it was waiting or let in.
 */
export class Gate {
  #used = 0;
  #inside = 0;
  readonly #waiting: Waiting[] = [];

  constructor(
    readonly units: number,
    readonly count: number,
    readonly queueMax: number,
  ) {}

  /** Units and reviews inside now. */
  get used(): { units: number; reviews: number; waiting: number } {
    return { units: this.#used, reviews: this.#inside, waiting: this.#waiting.length };
  }

  enter(units: number, waitMs: number, res: Answer): Promise<boolean> {
    if (res.destroyed) return Promise.resolve(false);
    const letIn = (): void => {
      this.#used += units;
      this.#inside++;
      onAnswered(res, () => {
        this.#used -= units;
        this.#inside--;
        this.#admit();
      });
    };
    if (this.#waiting.length === 0 && this.#fits(units)) {
      letIn();
      return Promise.resolve(true);
    }
    if (this.#waiting.length >= this.queueMax) return Promise.resolve(false);
    return new Promise((resolve) => {
      const gone = (): void => {
        clearTimeout(timer);
        const i = this.#waiting.indexOf(entry);
        if (i >= 0) this.#waiting.splice(i, 1);
        resolve(false);
        this.#admit();
      };
      const entry: Waiting = {
        units,
        go: () => {
          clearTimeout(timer);
          res.removeListener("close", gone);
          res.removeListener(GONE, gone);
          letIn();
          resolve(true);
        },
      };
      const timer = setTimeout(gone, waitMs);
      res.once("close", gone);
      res.once(GONE, gone);
      this.#waiting.push(entry);
    });
  }

  #fits(units: number): boolean {
    return this.#inside < this.count && this.#used + units <= this.units;
  }

  #admit(): void {
    while (this.#waiting.length > 0 && this.#fits((this.#waiting[0] as Waiting).units)) {
      (this.#waiting.shift() as Waiting).go();
    }
  }
}
