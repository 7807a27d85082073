// At most `concurrency` requests in handlers at once; the next ones wait in arrival order, at most
// `queueLimit` of them. A Flex Consumption instance behaves so (its per-instance HTTP concurrency,
// with requests waiting while the platform scales out); the local host is a single instance.
// A request refused for a full queue is told how long the queue ahead of it takes to clear, from
// the pace at which admitted requests have been finishing since the host last had nothing to do.

/** Bounds of the wait a refused request is told, in whole seconds. */
export const RETRY_AFTER_BOUNDS = { min: 1, max: 30 } as const;

/** Completions the pace is measured over: enough to smooth single slow requests, few enough to follow a change. */
const PACE_SAMPLES = 32;

/** A place in the queue: `admitted` resolves with the release once it may run, or undefined when withdrawn first. */
export interface Ticket {
  readonly admitted: Promise<(() => void) | undefined>;
  /** The client went away: leave the queue without running (nothing once admitted). */
  withdraw(): void;
}

interface Waiter {
  readonly admit: (release: (() => void) | undefined) => void;
  done: boolean;
}

export class Admission {
  private active = 0;
  private readonly queue: Waiter[] = [];
  /**
   * When the current busy period began, then the times its latest requests finished (oldest
   * first, at most PACE_SAMPLES + 1). Cleared when the host goes idle, so an idle gap never
   * counts as slowness.
   */
  private marks: number[] = [];

  constructor(
    readonly concurrency: number,
    readonly queueLimit: number,
    /** Milliseconds from any fixed origin; only differences are used. */
    private readonly now: () => number = () => performance.now(),
  ) {
    if (!Number.isInteger(concurrency) || concurrency < 1) throw new Error(`The HTTP concurrency must be a whole number of at least 1, not ${concurrency}.`);
    if (!Number.isInteger(queueLimit) || queueLimit < 0) throw new Error(`The HTTP queue limit must be a whole number of at least 0, not ${queueLimit}.`);
  }

  /** Requests in handlers now. */
  get running(): number {
    return this.active;
  }

  /** Requests waiting for a place. */
  get waiting(): number {
    return this.queue.length;
  }

  /**
   * Whole seconds until the requests waiting now have all been admitted, at the pace requests
   * have been finishing: the mean time between recent completions, or the time since the last
   * one when that is longer (handlers that stall make the wait grow). Within RETRY_AFTER_BOUNDS.
   */
  get clearSeconds(): number {
    const now = this.now();
    const marks = this.marks;
    const last = marks[marks.length - 1] ?? now;
    const mean = marks.length >= 2 ? (last - marks[0]!) / (marks.length - 1) : 0;
    const perRequestMs = Math.max(mean, now - last);
    const seconds = Math.ceil((this.queue.length * perRequestMs) / 1000);
    return Math.min(RETRY_AFTER_BOUNDS.max, Math.max(RETRY_AFTER_BOUNDS.min, seconds));
  }

  /** A ticket, or undefined when every place and the whole queue are taken. */
  enter(): Ticket | undefined {
    if (this.active < this.concurrency && this.queue.length === 0) {
      if (this.active === 0) this.marks = [this.now()];
      this.active++;
      return { admitted: Promise.resolve(this.releaser()), withdraw: () => undefined };
    }
    if (this.queue.length >= this.queueLimit) return undefined;
    let waiter!: Waiter;
    const admitted = new Promise<(() => void) | undefined>((resolve) => (waiter = { admit: resolve, done: false }));
    this.queue.push(waiter);
    return {
      admitted,
      withdraw: () => {
        if (waiter.done) return;
        waiter.done = true;
        this.queue.splice(this.queue.indexOf(waiter), 1);
        waiter.admit(undefined);
      },
    };
  }

  /** Releases a place once; the first waiter takes it. */
  private releaser(): () => void {
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.active--;
      this.marks.push(this.now());
      if (this.marks.length > PACE_SAMPLES + 1) this.marks.shift();
      const next = this.queue.shift();
      if (next) {
        next.done = true;
        this.active++;
        next.admit(this.releaser());
      }
    };
  }
}
