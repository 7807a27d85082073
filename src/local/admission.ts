// At most `concurrency` requests in handlers at once; the next ones wait in arrival order, at most
// `queueLimit` of them. A Flex Consumption instance behaves so (its per-instance HTTP concurrency,
// with requests waiting while the platform scales out); the local host is a single instance.

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

  constructor(
    readonly concurrency: number,
    readonly queueLimit: number,
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

  /** A ticket, or undefined when every place and the whole queue are taken. */
  enter(): Ticket | undefined {
    if (this.active < this.concurrency && this.queue.length === 0) {
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
      const next = this.queue.shift();
      if (next) {
        next.done = true;
        this.active++;
        next.admit(this.releaser());
      }
    };
  }
}
