/**
 * Where a link runs. On a single broker every link runs there; in a cluster each runs on the one
 * node that holds its lease (cluster/lease.ts; spec/cluster.md §Leases), so a link moves
 * messages exactly once in the whole deployment and moves to another node when its node dies.
 */

/** What a gate calls as the link may start and must stop here. */
export interface GateHandlers {
  /** The link may run here now: start it. */
  acquired(): void;
  /** The link must not run here any more: stop it. */
  lost(): void | Promise<void>;
}

export interface LinkGate {
  /** Runs `handlers` for link `name` from now on; `release` stops the link here and lets another node take it. */
  hold(name: string, handlers: GateHandlers): { release(): Promise<void> };
}

/** The single-broker gate: every link runs here, at once. */
export const RUN_HERE: LinkGate = {
  hold(_name, handlers) {
    handlers.acquired();
    return { release: async () => handlers.lost() };
  },
};
