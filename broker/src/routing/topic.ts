import { type Binding, type FieldTable, bindingKey } from './binding.js';
import type { BindingMatcher } from './binding-matcher.js';

/** Options for a topic matcher. */
export interface TopicMatcherOptions {
  /**
   * How many distinct routing keys to remember match results for. The cache keeps two
   * generations of up to this many keys each (so at most twice this many entries); `0`
   * disables caching. Any add or remove empties it; results of more than 256 bindings are
   * never cached. Default 4096.
   */
  topicCacheSize?: number;
}

const DEFAULTS = {
  topicCacheSize: 4096,
  /**
   * Results longer than this are not cached: a key matching thousands of bindings would pin
   * that many references per cached key, and its walk costs little next to copying them.
   */
  maxCachedResult: 256,
} as const;

/** Under a stream of one-off routing keys, the cache stores one miss in this many. */
const SAMPLED_ADMISSION = 16;

const NO_WORDS: readonly string[] = Object.freeze([]);
const NO_BINDINGS: readonly Binding[] = Object.freeze([]);

/**
 * Splits a routing or binding key into words as RabbitMQ does: on every '.', keeping empty
 * words ('a..b' is three words), except that the empty key has no words at all (so '' is
 * matched by '#' and by the binding key '', but not by '*').
 */
export function splitTopicKey(key: string): readonly string[] {
  return key === '' ? NO_WORDS : key.split('.');
}

/** One trie node: the word path from the root spells a binding-key prefix. */
class TopicNode {
  /** Literal-word children; created on first use since most leaves have none. */
  literal: Map<string, TopicNode> | undefined = undefined;
  star: TopicNode | undefined = undefined;
  hash: TopicNode | undefined = undefined;
  /** Bindings whose binding key ends at this node. */
  readonly bindings: Binding[] = [];
  /** '#' nodes only: the walk that last entered this node ... */
  walkEpoch = 0;
  /** ... and the lowest word index that walk entered it at (see TopicMatcher.#walk). */
  walkFrom = 0;
  readonly isHash: boolean;

  constructor(
    readonly parent: TopicNode | undefined,
    /** The word on the edge from `parent`: '*', '#' or a literal word. */
    readonly word: string,
  ) {
    this.isHash = word === '#' && parent !== undefined;
  }

  get isEmpty(): boolean {
    return (
      this.bindings.length === 0 &&
      this.star === undefined &&
      this.hash === undefined &&
      (this.literal === undefined || this.literal.size === 0)
    );
  }

  child(word: string): TopicNode | undefined {
    if (word === '*') return this.star;
    if (word === '#') return this.hash;
    return this.literal?.get(word);
  }
}

/**
 * Topic exchange: binding keys are '.'-separated words where '*' matches exactly one word and
 * '#' matches zero or more words, at any position. Bindings live in a trie of words and a
 * match walks it with the routing key's words, as RabbitMQ's `trie_match` does, but without
 * its backtracking: each (node, word index) state is expanded at most once, so a match costs
 * O(trie nodes x words) at worst, whatever the patterns ('#.#.#.#.#.a' included). Runs of
 * '#' share one trie node ('#.#' matches exactly what '#' matches). Results are cached per
 * routing key.
 */
export class TopicMatcher implements BindingMatcher {
  readonly #root = new TopicNode(undefined, '');
  readonly #byIdentity = new Map<string, { binding: Binding; node: TopicNode }>();
  readonly #cache: RoutingKeyCache | undefined;
  /** Numbers the walks, so '#' nodes can tell a stale visit mark from this walk's. */
  #epoch = 0;
  // Reused explicit stack (no recursion: routing keys may have many words).
  readonly #stackNodes: TopicNode[] = [];
  readonly #stackWords: number[] = [];

  constructor(options: TopicMatcherOptions = {}) {
    const size = options.topicCacheSize ?? DEFAULTS.topicCacheSize;
    if (!Number.isInteger(size) || size < 0) {
      throw new RangeError(`topicCacheSize must be a non-negative integer, got ${String(size)}`);
    }
    this.#cache = size > 0 ? new RoutingKeyCache(size) : undefined;
  }

  get size(): number {
    return this.#byIdentity.size;
  }

  add(b: Binding): boolean {
    const id = bindingKey(b);
    if (this.#byIdentity.has(id)) return false;
    let node = this.#root;
    for (const word of splitTopicKey(b.routingKey)) {
      if (word === '#' && node.isHash) continue; // '#.#' is '#': keep one node per run
      node = this.#childOrCreate(node, word);
    }
    node.bindings.push(b);
    this.#byIdentity.set(id, { binding: b, node });
    this.#cache?.clear(); // a cached result may now be missing this binding
    return true;
  }

  remove(b: Binding): boolean {
    const id = bindingKey(b);
    const entry = this.#byIdentity.get(id);
    if (entry === undefined) return false;
    this.#byIdentity.delete(id);
    const at = entry.node.bindings.indexOf(entry.binding);
    if (at >= 0) entry.node.bindings.splice(at, 1);
    this.#prune(entry.node);
    this.#cache?.clear(); // a cached result may still hold this binding
    return true;
  }

  match(routingKey: string, _headers: FieldTable | undefined, out: Binding[]): void {
    let found = this.#cache?.get(routingKey);
    if (found === undefined) {
      found = this.#walk(splitTopicKey(routingKey));
      if (found.length <= DEFAULTS.maxCachedResult) this.#cache?.admit(routingKey, found);
    }
    for (let i = 0; i < found.length; i++) out.push(found[i]!);
  }

  bindings(): Iterable<Binding> {
    return (function* (entries) {
      for (const e of entries) yield e.binding;
    })(this.#byIdentity.values());
  }

  /**
   * Walks the trie for these words and returns every binding reached, each once.
   *
   * A state is (node, i): the words before i are matched up to `node`. Only a '#' node can be
   * reached by two paths (entered without consuming a word, or staying on it while it
   * swallows one); every other state has exactly one predecessor. And once a '#' node is
   * entered at index i it is in every state (node, j >= i). So each '#' node remembers the
   * lowest index this walk entered it at and only expands the indices below that: no state is
   * expanded twice, no bindings are emitted twice, and nothing is allocated per state.
   */
  #walk(words: readonly string[]): readonly Binding[] {
    const n = words.length;
    const epoch = ++this.#epoch;
    const nodes = this.#stackNodes;
    const at = this.#stackWords;
    let found: Binding[] | undefined;
    let sp = 0;
    nodes[sp] = this.#root;
    at[sp++] = 0;
    while (sp > 0) {
      const node = nodes[--sp]!;
      const from = at[sp]!;
      let to = from; // indices to expand at this node: [from, to]
      if (node.isHash) {
        const expandedFrom = node.walkEpoch === epoch ? node.walkFrom : n + 1;
        if (from >= expandedFrom) continue; // already expanded from there to the end
        to = expandedFrom - 1;
        node.walkEpoch = epoch;
        node.walkFrom = from;
      }
      for (let i = from; i <= to; i++) {
        if (i === n) {
          const here = node.bindings;
          // A loop, not push(...here): spreading a huge array overflows the call stack.
          for (let k = 0; k < here.length; k++) (found ??= []).push(here[k]!);
          // A trailing '#' matches zero words.
          if (node.hash !== undefined) {
            nodes[sp] = node.hash;
            at[sp++] = n;
          }
          continue;
        }
        // A '#' child can match zero words, so it is entered without consuming word i.
        if (node.hash !== undefined) {
          nodes[sp] = node.hash;
          at[sp++] = i;
        }
        if (node.star !== undefined) {
          nodes[sp] = node.star;
          at[sp++] = i + 1;
        }
        const next = node.literal?.get(words[i]!);
        if (next !== undefined) {
          nodes[sp] = next;
          at[sp++] = i + 1;
        }
      }
    }
    // The stacks keep their high-water size; stale slots hold at most a few (empty) nodes.
    return found ?? NO_BINDINGS;
  }

  #childOrCreate(node: TopicNode, word: string): TopicNode {
    const existing = node.child(word);
    if (existing !== undefined) return existing;
    const created = new TopicNode(node, word);
    if (word === '*') node.star = created;
    else if (word === '#') node.hash = created;
    else (node.literal ??= new Map()).set(word, created);
    return created;
  }

  /** Unlinks empty nodes from `node` up towards the root, so unbinding frees memory. */
  #prune(node: TopicNode): void {
    let current: TopicNode = node;
    while (current.parent !== undefined && current.isEmpty) {
      const parent = current.parent;
      if (parent.star === current) parent.star = undefined;
      else if (parent.hash === current) parent.hash = undefined;
      else parent.literal?.delete(current.word);
      current = parent;
    }
  }
}

/**
 * Routing key -> match result, approximately least-recently-used: entries live in a young
 * and an old generation; when the young one fills it becomes the old one and the previous old
 * one is dropped; a hit in the old generation moves the entry back to the young one. Hits on
 * hot keys cost one map lookup and no reordering.
 *
 * Storing a result costs more than the lookup saves when keys rarely repeat (orders.<uuid>.eu),
 * so when a generation ends with fewer than 1 hit in 8 lookups, only every 16th miss is stored
 * until the next one shows otherwise; a key that does repeat still gets in after a few misses.
 */
class RoutingKeyCache {
  #young = new Map<string, readonly Binding[]>();
  #old = new Map<string, readonly Binding[]>();
  // Lookups and hits during the current young generation.
  #lookups = 0;
  #hits = 0;
  /** Store one miss in this many: 1, or SAMPLED_ADMISSION under one-off keys. */
  #admitEvery = 1;
  #missesSinceAdmit = 0;

  constructor(readonly generationSize: number) {}

  get(key: string): readonly Binding[] | undefined {
    this.#lookups++;
    const young = this.#young.get(key);
    if (young !== undefined) {
      this.#hits++;
      return young;
    }
    const old = this.#old.get(key);
    if (old !== undefined) {
      this.#hits++;
      this.#store(key, old);
    }
    return old;
  }

  /** Offers a result just computed after a miss; stored unless one-off keys dominate. */
  admit(key: string, value: readonly Binding[]): void {
    if (++this.#missesSinceAdmit < this.#admitEvery) return;
    this.#missesSinceAdmit = 0;
    this.#store(key, value);
  }

  clear(): void {
    if (this.#young.size > 0) this.#young = new Map();
    if (this.#old.size > 0) this.#old = new Map();
    this.#lookups = 0;
    this.#hits = 0;
    this.#admitEvery = 1;
  }

  #store(key: string, value: readonly Binding[]): void {
    this.#young.set(key, value);
    if (this.#young.size < this.generationSize) return;
    this.#admitEvery = this.#hits * 8 < this.#lookups ? SAMPLED_ADMISSION : 1;
    this.#lookups = 0;
    this.#hits = 0;
    this.#old = this.#young;
    this.#young = new Map();
  }
}
