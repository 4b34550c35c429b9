/**
 * A tiny typed event emitter. `node:events` is not available in browsers and the SDK core
 * must run in both, so this implements the small part of EventEmitter the SDK needs.
 */

/** Any listener signature; `any` so that listeners with specific parameters fit. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any -- see above
export type Listener = (...args: any[]) => void;

/** An event map: event name → listener signature. */
export type EventMap<E> = { [K in keyof E]: Listener };

interface Wrapped {
  /** The listener `once` was called with, so `off(event, original)` finds the wrapper. */
  listener?: Listener;
}

/**
 * Rethrows a listener's exception outside the emitting call stack: like EventEmitter, a
 * throwing listener surfaces as an uncaught exception, but it cannot unwind (and corrupt)
 * the frame-processing loop that emitted the event.
 */
function reportListenerError(err: unknown): void {
  queueMicrotask(() => {
    throw err;
  });
}

/**
 * Typed event emitter: `on`/`once`/`off`/`emit` with EventEmitter's semantics, except that
 * an `error` event without listeners is dropped rather than thrown (every SDK error also
 * rejects the promise of the operation it concerns).
 */
export class Emitter<E extends EventMap<E>> {
  // Copy-on-write arrays: emit iterates a snapshot without copying it.
  #listeners: { [K in keyof E]?: readonly Listener[] } = {};

  /** Adds `listener` for `event`. */
  on<K extends keyof E>(event: K, listener: E[K]): this {
    this.#listeners[event] = [...(this.#listeners[event] ?? []), listener];
    return this;
  }

  /** Alias of `on`, as in EventEmitter. */
  addListener<K extends keyof E>(event: K, listener: E[K]): this {
    return this.on(event, listener);
  }

  /** Adds `listener` for the next `event` only. */
  once<K extends keyof E>(event: K, listener: E[K]): this {
    const wrapper: Listener & Wrapped = (...args: unknown[]) => {
      this.off(event, wrapper as E[K]);
      listener(...args);
    };
    wrapper.listener = listener;
    return this.on(event, wrapper as E[K]);
  }

  /** Removes the most recently added registration of `listener` for `event`. */
  off<K extends keyof E>(event: K, listener: E[K]): this {
    const list = this.#listeners[event];
    if (list === undefined) return this;
    for (let i = list.length - 1; i >= 0; i--) {
      const fn = list[i] as Listener & Wrapped;
      if (fn === listener || fn.listener === listener) {
        this.#listeners[event] = [...list.slice(0, i), ...list.slice(i + 1)];
        break;
      }
    }
    return this;
  }

  /** Alias of `off`, as in EventEmitter. */
  removeListener<K extends keyof E>(event: K, listener: E[K]): this {
    return this.off(event, listener);
  }

  /** Removes every listener of `event`, or of all events. */
  removeAllListeners(event?: keyof E): this {
    if (event === undefined) this.#listeners = {};
    else delete this.#listeners[event];
    return this;
  }

  /** Number of listeners registered for `event`. */
  listenerCount(event: keyof E): number {
    return this.#listeners[event]?.length ?? 0;
  }

  /**
   * Calls every listener of `event` in registration order; returns whether there was any.
   * A listener that throws does not stop the others (see reportListenerError).
   */
  emit<K extends keyof E>(event: K, ...args: Parameters<E[K]>): boolean {
    const list = this.#listeners[event];
    if (list === undefined || list.length === 0) return false;
    for (const fn of list) {
      try {
        fn(...args);
      } catch (err) {
        reportListenerError(err);
      }
    }
    return true;
  }
}
