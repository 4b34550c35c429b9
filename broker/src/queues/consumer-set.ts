import type { QueueConsumer } from './consumer.js';

/**
 * A queue's consumers and who gets the next message: the highest-priority consumer with
 * room, round-robin among equals; or, with single active consumer, only the first
 * registered one (the next in registration order takes over when it goes). A stream groups
 * its consumers by reader name (`groupOf`): single active consumer then holds per group.
 */
export class ConsumerSet {
  private readonly list: QueueConsumer[] = [];
  private roundRobin = 0;

  constructor(
    private readonly singleActive: boolean,
    private readonly groupOf: (c: QueueConsumer) => string = () => '',
  ) {}

  /** With single active consumer: true when `consumer` is the first of its group. */
  isActive(consumer: QueueConsumer): boolean {
    if (!this.singleActive) return true;
    const g = this.groupOf(consumer);
    return this.list.find((c) => this.groupOf(c) === g) === consumer;
  }

  get size(): number {
    return this.list.length;
  }

  values(): readonly QueueConsumer[] {
    return this.list;
  }

  hasExclusive(): boolean {
    return this.list.some((c) => c.exclusive);
  }

  /** Adds a consumer; with single active consumer, tells it whether it is the active one. */
  add(consumer: QueueConsumer): void {
    this.list.push(consumer);
    if (this.singleActive) consumer.activeStateChanged?.(this.isActive(consumer));
  }

  /** Removes a consumer; with single active consumer, activates the next one if it was active. */
  remove(consumer: QueueConsumer): boolean {
    const i = this.list.indexOf(consumer);
    if (i < 0) return false;
    const wasActive = this.singleActive && this.isActive(consumer);
    this.list.splice(i, 1);
    if (wasActive) {
      const g = this.groupOf(consumer);
      this.list.find((c) => this.groupOf(c) === g)?.activeStateChanged?.(true);
    }
    return true;
  }

  /** Removes every consumer, returning them. */
  clear(): QueueConsumer[] {
    return this.list.splice(0);
  }

  pick(): QueueConsumer | undefined {
    const list = this.list;
    const n = list.length;
    if (n === 0) return undefined;
    if (this.singleActive) return list[0]!.canTake() ? list[0] : undefined;
    let best: QueueConsumer | undefined;
    let bestIndex = -1;
    for (let k = 0; k < n; k++) {
      const i = (this.roundRobin + k) % n;
      const c = list[i]!;
      if ((best === undefined || c.priority > best.priority) && c.canTake()) {
        best = c;
        bestIndex = i;
      }
    }
    if (best !== undefined) this.roundRobin = (bestIndex + 1) % n;
    return best;
  }
}
