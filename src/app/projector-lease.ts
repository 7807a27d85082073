// The projector's lease while a batch runs. A batch can outlast the lease (storage throttling, a
// large burst), and another instance takes a lapsed lease and projects the same entries; a
// projector that went on writing after that could put back index rows older than the ones the
// other one wrote. So the lease is renewed on a heartbeat and before each step that writes, and
// once anyone else took it this projector stops (a step skips the renewal while most of the lease
// is still ahead). Its generation goes with the index and drift writes as a fence (each refuses
// writes under an older generation than the last one it saw: store/projector-fence.ts).
import { LeaseLostError, type OutboxStore } from '../store';

export class ProjectorLease {
  #lost = false;
  #renewing: Promise<void> = Promise.resolve();
  readonly #heartbeat: NodeJS.Timeout;
  /** Until when (this clock) the last take or renewal holds the lease. */
  #heldUntil: number;

  private constructor(
    private readonly outbox: OutboxStore,
    private readonly owner: string,
    /** One more whenever another owner takes the lease: the fence of this batch's index and drift writes. */
    readonly generation: number,
    private readonly ms: number,
    takenAt: number,
  ) {
    this.#heldUntil = takenAt + ms;
    this.#heartbeat = setInterval(() => void this.#renew().catch(() => undefined), Math.max(1, Math.floor(ms / 3)));
    this.#heartbeat.unref?.();
  }

  /** Takes the lease for `ms` under a generation above `above`, or undefined while another instance holds it. */
  static async take(outbox: OutboxStore, owner: string, ms: number, above = 0): Promise<ProjectorLease | undefined> {
    const now = Date.now();
    const generation = await outbox.holdLease(owner, now, now + ms, above);
    return generation === undefined ? undefined : new ProjectorLease(outbox, owner, generation, ms, now);
  }

  /**
   * Renews the lease unless more than half of it is still ahead (the usual batch: a renewal costs
   * two round trips, and another instance takes the lease only once it lapsed by its clock, so half
   * the lease is the margin for clocks that differ); throws LeaseLostError once another instance
   * has taken it. `confirm`: renew anyway, to learn whether the lease is still this one's.
   */
  async keep(confirm = false): Promise<void> {
    if (!confirm && !this.#lost && Date.now() < this.#heldUntil - this.ms / 2) return;
    await this.#renew();
    if (this.#lost) throw new LeaseLostError('Another projector took the lease while this one worked: this one stops, and that one projects what is left.');
  }

  /** Stops the heartbeat and waits for a renewal in flight (the next batch takes the lease again under its ETag). */
  async stop(): Promise<void> {
    clearInterval(this.#heartbeat);
    await this.#renewing.catch(() => undefined);
  }

  /** One renewal at a time: two at once would race for the lease row's ETag, and one would read as lost. */
  #renew(): Promise<void> {
    this.#renewing = this.#renewing
      .catch(() => undefined)
      .then(async () => {
        if (this.#lost) return;
        const at = Date.now();
        if (await this.outbox.renewLease(this.owner, this.generation, at + this.ms)) this.#heldUntil = at + this.ms;
        else this.#lost = true;
      });
    return this.#renewing;
  }
}
