import { expect } from 'chai';
import {
  type Binding,
  type ExchangeType,
  type FieldTable,
  type RoutableExchange,
  createMatcher,
  route,
} from '@switchyard/broker/internal';

/** A tiny exchange graph for tests: declare exchanges, bind, route. */
class Graph {
  readonly exchanges = new Map<string, RoutableExchange>();

  exchange(name: string, type: ExchangeType, alternateExchange?: string): this {
    this.exchanges.set(name, { name, matcher: createMatcher(type), alternateExchange });
    return this;
  }

  bindQueue(queue: string, source: string, routingKey = '', args: FieldTable = {}): this {
    return this.#bind({ source, destination: queue, destinationKind: 'queue', routingKey, arguments: args });
  }

  bindExchange(destination: string, source: string, routingKey = '', args: FieldTable = {}): this {
    return this.#bind({ source, destination, destinationKind: 'exchange', routingKey, arguments: args });
  }

  route(exchange: string, routingKey = '', headers?: FieldTable): string[] {
    const start = this.exchanges.get(exchange);
    if (start === undefined) throw new Error(`no exchange ${exchange}`);
    return route(start, routingKey, headers, (name) => this.exchanges.get(name)).queues;
  }

  #bind(b: Binding): this {
    const source = this.exchanges.get(b.source);
    if (source === undefined) throw new Error(`no exchange ${b.source}`);
    source.matcher.add(b);
    return this;
  }
}

describe('route', () => {
  describe('single exchange', () => {
    it('routes a direct exchange by key equality', () => {
      const g = new Graph().exchange('d', 'direct').bindQueue('q1', 'd', 'k').bindQueue('q2', 'd', 'other');
      expect(g.route('d', 'k')).to.deep.equal(['q1']);
      expect(g.route('d', 'K')).to.deep.equal([]);
      expect(g.route('d', '')).to.deep.equal([]);
    });

    it('routes a fanout exchange to every binding regardless of key', () => {
      const g = new Graph().exchange('f', 'fanout').bindQueue('q1', 'f', 'x').bindQueue('q2', 'f');
      expect(g.route('f', 'anything')).to.deep.equal(['q1', 'q2']);
    });

    it('lists a queue once when several bindings reach it', () => {
      const g = new Graph()
        .exchange('t', 'topic')
        .bindQueue('q', 't', 'a.*')
        .bindQueue('q', 't', '#')
        .bindQueue('q', 't', 'a.b', { note: 1 });
      expect(g.route('t', 'a.b')).to.deep.equal(['q']);
    });

    it('deduplicates many queues reached many times', () => {
      const g = new Graph().exchange('f', 'fanout');
      for (let i = 0; i < 50; i++) {
        g.bindQueue(`q${i}`, 'f', 'one').bindQueue(`q${i}`, 'f', 'two');
      }
      const queues = g.route('f');
      expect(queues).to.have.length(50);
      expect(new Set(queues).size).to.equal(50);
    });

    it('routes headers exchanges on headers', () => {
      const g = new Graph().exchange('h', 'headers').bindQueue('eu', 'h', '', { region: 'eu' });
      expect(g.route('h', '', { region: 'eu' })).to.deep.equal(['eu']);
      expect(g.route('h', '', { region: 'us' })).to.deep.equal([]);
      expect(g.route('h', '')).to.deep.equal([]);
    });
  });

  describe('exchange-to-exchange bindings', () => {
    it('follows a chain to any depth, with the same key', () => {
      const g = new Graph()
        .exchange('a', 'topic')
        .exchange('b', 'direct')
        .exchange('c', 'fanout')
        .bindExchange('b', 'a', 'orders.#')
        .bindExchange('c', 'b', 'orders.1')
        .bindQueue('qa', 'a', '#')
        .bindQueue('qc', 'c');
      expect(g.route('a', 'orders.1')).to.deep.equal(['qa', 'qc']);
      expect(g.route('a', 'orders.2')).to.deep.equal(['qa']);
    });

    it('applies each exchange its own rule', () => {
      const g = new Graph()
        .exchange('t', 'topic')
        .exchange('h', 'headers')
        .bindExchange('h', 't', 'x.*')
        .bindQueue('vip', 'h', '', { vip: true });
      expect(g.route('t', 'x.y', { vip: true })).to.deep.equal(['vip']);
      expect(g.route('t', 'x.y', { vip: false })).to.deep.equal([]);
      expect(g.route('t', 'z.y', { vip: true })).to.deep.equal([]);
    });

    it('ends a cycle A -> B -> A and lists each queue once', () => {
      const g = new Graph()
        .exchange('A', 'fanout')
        .exchange('B', 'fanout')
        .bindExchange('B', 'A')
        .bindExchange('A', 'B')
        .bindQueue('qa', 'A')
        .bindQueue('qb', 'B');
      expect(g.route('A')).to.deep.equal(['qa', 'qb']);
      expect(g.route('B')).to.deep.equal(['qb', 'qa']);
    });

    it('ends a self-binding', () => {
      const g = new Graph().exchange('A', 'fanout').bindExchange('A', 'A').bindQueue('q', 'A');
      expect(g.route('A')).to.deep.equal(['q']);
    });

    it('lists a queue reachable by two paths once (diamond)', () => {
      const g = new Graph()
        .exchange('top', 'fanout')
        .exchange('left', 'fanout')
        .exchange('right', 'fanout')
        .exchange('bottom', 'fanout')
        .bindExchange('left', 'top')
        .bindExchange('right', 'top')
        .bindExchange('bottom', 'left')
        .bindExchange('bottom', 'right')
        .bindQueue('shared', 'left')
        .bindQueue('shared', 'right')
        .bindQueue('deep', 'bottom');
      expect(g.route('top')).to.deep.equal(['shared', 'deep']);
    });

    it('orders queues breadth-first: direct bindings before further hops', () => {
      const g = new Graph()
        .exchange('a', 'fanout')
        .exchange('b', 'fanout')
        .bindExchange('b', 'a')
        .bindQueue('far', 'b')
        .bindQueue('near', 'a');
      expect(g.route('a')).to.deep.equal(['near', 'far']);
    });

    it('skips a destination exchange that does not exist', () => {
      const g = new Graph().exchange('a', 'fanout').bindExchange('gone', 'a').bindQueue('q', 'a');
      expect(g.route('a')).to.deep.equal(['q']);
    });
  });

  describe('alternate exchanges', () => {
    it('sends what the exchange cannot route to its alternate exchange', () => {
      const g = new Graph()
        .exchange('main', 'direct', 'ae')
        .exchange('ae', 'fanout')
        .bindQueue('routed', 'main', 'known')
        .bindQueue('unrouted', 'ae');
      expect(g.route('main', 'known')).to.deep.equal(['routed']);
      expect(g.route('main', 'unknown')).to.deep.equal(['unrouted']);
    });

    it('uses the alternate exchange of an exchange with no bindings at all', () => {
      const g = new Graph().exchange('main', 'topic', 'ae').exchange('ae', 'fanout').bindQueue('u', 'ae');
      expect(g.route('main', 'x')).to.deep.equal(['u']);
    });

    it('follows a chain of alternate exchanges', () => {
      const g = new Graph()
        .exchange('a', 'direct', 'b')
        .exchange('b', 'direct', 'c')
        .exchange('c', 'fanout')
        .bindQueue('qb', 'b', 'only-b')
        .bindQueue('qc', 'c');
      expect(g.route('a', 'only-b')).to.deep.equal(['qb']);
      expect(g.route('a', 'x')).to.deep.equal(['qc']);
    });

    it('ends a loop of alternate exchanges', () => {
      const g = new Graph()
        .exchange('a', 'direct', 'b')
        .exchange('b', 'direct', 'a')
        .bindQueue('qa', 'a', 'ka')
        .bindQueue('qb', 'b', 'kb');
      expect(g.route('a', 'none')).to.deep.equal([]);
      expect(g.route('a', 'kb')).to.deep.equal(['qb']);
      expect(g.route('b', 'ka')).to.deep.equal(['qa']);
    });

    it('ends an exchange that is its own alternate', () => {
      const g = new Graph().exchange('a', 'direct', 'a');
      expect(g.route('a', 'x')).to.deep.equal([]);
    });

    it('ignores an alternate exchange that does not exist', () => {
      const g = new Graph().exchange('a', 'direct', 'missing');
      expect(g.route('a', 'x')).to.deep.equal([]);
    });

    it('is not used when a binding matched, even one to an exchange that routes nowhere', () => {
      // RabbitMQ consults the AE only when the exchange's own bindings match nothing.
      const g = new Graph()
        .exchange('a', 'fanout', 'ae')
        .exchange('empty', 'fanout')
        .exchange('ae', 'fanout')
        .bindExchange('empty', 'a')
        .bindQueue('unrouted', 'ae');
      expect(g.route('a')).to.deep.equal([]);
    });

    it('is not used when a binding matched to a missing exchange', () => {
      const g = new Graph()
        .exchange('a', 'fanout', 'ae')
        .exchange('ae', 'fanout')
        .bindExchange('gone', 'a')
        .bindQueue('u', 'ae');
      expect(g.route('a')).to.deep.equal([]);
    });

    it('applies to exchanges reached through exchange-to-exchange bindings', () => {
      const g = new Graph()
        .exchange('a', 'fanout')
        .exchange('b', 'direct', 'ae')
        .exchange('ae', 'fanout')
        .bindExchange('b', 'a')
        .bindQueue('qb', 'b', 'k')
        .bindQueue('unrouted-by-b', 'ae');
      expect(g.route('a', 'k')).to.deep.equal(['qb']);
      expect(g.route('a', 'other')).to.deep.equal(['unrouted-by-b']);
    });

    it('does not route an alternate exchange twice when it is also reached by a binding', () => {
      const g = new Graph()
        .exchange('a', 'fanout')
        .exchange('b', 'direct', 'ae')
        .exchange('ae', 'fanout')
        .bindExchange('b', 'a')
        .bindExchange('ae', 'a')
        .bindQueue('u', 'ae');
      expect(g.route('a', 'x')).to.deep.equal(['u']);
    });

    it('lets the alternate exchange route through its own exchange bindings', () => {
      const g = new Graph()
        .exchange('a', 'direct', 'ae')
        .exchange('ae', 'fanout')
        .exchange('sink', 'topic')
        .bindExchange('sink', 'ae')
        .bindQueue('dead', 'sink', '#');
      expect(g.route('a', 'nope.nope')).to.deep.equal(['dead']);
    });
  });
});
