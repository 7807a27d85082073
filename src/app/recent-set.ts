// A bounded memory of ids a long-lived process has seen (commits it saw succeed, alert records it
// logged): it forgets the oldest first, so a process that runs for months holds a fixed amount.

/** A set that forgets its oldest members past `max`. */
export class RecentSet {
  readonly #items = new Set<string>();
  constructor(private readonly max: number) {}
  has(x: string): boolean {
    return this.#items.has(x);
  }
  add(x: string): void {
    this.#items.delete(x);
    this.#items.add(x);
    if (this.#items.size > this.max) this.#items.delete(this.#items.values().next().value!);
  }
}
