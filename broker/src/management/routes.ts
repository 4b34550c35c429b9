import type { BrokerHost as Broker } from '../broker-host.js';
import { DefinitionsError, exportDefinitions, importDefinitions } from '../definitions.js';
import { streamMetrics } from '../metrics/broker-metrics.js';
import { eventLoopDelay } from '../metrics/event-loop-delay.js';
import { PROMETHEUS_CONTENT_TYPE } from '../metrics/prometheus.js';
import type { DestinationKind } from '../routing/binding.js';
import * as act from './actions.js';
import { clusterOf, streamCounts, type ClusterManagement } from './cluster-view.js';
import { addAccessRoutes } from './access-routes.js';
import { addSchemaRoutes } from './schema-routes.js';
import { addLinkRoutes } from './link-routes.js';
import { queryFlag } from './body.js';
import { HttpError } from './http-util.js';
import type { RateSampler } from './rates.js';
import { Router, type Reply, type RequestContext } from './router.js';
import type { StaticFiles } from './static-files.js';
import type { VirtualHost } from '../vhost/virtual-host.js';
import * as view from './views.js';

/** Every endpoint of the management port. spec/management.md documents each one. */
export function createRoutes(broker: Broker, sampler: RateSampler, files: StaticFiles): Router {
  const r = new Router();
  const vhosts = (ctx: RequestContext): Iterable<VirtualHost> =>
    ctx.params['vhost'] === undefined ? broker.allVhosts() : [act.requireVhost(broker, ctx.params['vhost'])];
  const vhostOf = (ctx: RequestContext): VirtualHost => act.requireVhost(broker, ctx.params['vhost']!);
  const json = (body: unknown, status = 200): Reply => ({ status, json: body });

  r.add('GET', '/api/health', () => json({ status: 'ok' }));
  r.add('GET', '/api/overview', () => json(view.describeOverview(broker, sampler)));
  r.add('GET', '/api/overview/history', () => json(sampler.overviewHistory()));
  // Returns the window that ends now and starts a new one (spec/management.md §Metrics).
  r.add('POST', '/api/overview/event-loop-delay/reset', () => {
    const eld = eventLoopDelay();
    const window = eld.snapshot();
    eld.reset();
    return json(window);
  });
  // Cluster nodes only (spec/cluster.md §Management): this node, its JetStream connection and
  // each shard stream's leader and replica state; and every node with its connections.
  const requireCluster = (): ClusterManagement => {
    const cluster = clusterOf(broker);
    if (cluster === undefined)
      throw new HttpError(404, 'not_found', 'this broker is not a cluster node (start it with --cluster)');
    return cluster;
  };
  r.add('GET', '/api/cluster', async () => {
    const cluster = requireCluster();
    return json({ ...(await cluster.health()), nodes: await cluster.directory.list() });
  });
  // A single node lists no nodes (the dashboard hides its nodes panel), rather than a 404.
  r.add('GET', '/api/nodes', async () => json((await clusterOf(broker)?.directory.list()) ?? []));
  r.add('GET', '/api/vhosts', () => json([...broker.allVhosts()].map((v) => ({ name: v.name }))));
  addAccessRoutes(r, broker);
  addSchemaRoutes(r, broker);
  addLinkRoutes(r, broker);

  // queues
  const listQueues = async (ctx: RequestContext): Promise<Reply> =>
    json(view.describeQueues(vhosts(ctx), sampler, await streamCounts(broker)));
  r.add('GET', '/api/queues', listQueues);
  r.add('GET', '/api/queues/:vhost', listQueues);
  r.add('GET', '/api/queues/:vhost/:name', async (ctx) => {
    const vhost = vhostOf(ctx);
    const q = act.requireQueue(vhost, ctx.params['name']!);
    const inStream = await streamCounts(broker);
    const replicas = await clusterOf(broker)?.queueReplicas(q.id);
    return json({
      ...view.describeQueue(vhost, q, sampler, Date.now(), inStream),
      ...(replicas === undefined ? {} : { cluster: replicas }),
      consumerDetails: view.describeConsumers(broker.allConnections(), (cq, v) => cq === q && v === vhost.name),
      bindings: view.describeBindings([vhost], (b) => b.destinationKind === 'queue' && b.destination === q.name),
    });
  });
  r.add('PUT', '/api/queues/:vhost/:name', async (ctx) => {
    const vhost = vhostOf(ctx);
    const { queue, created } = act.declareQueue(vhost, ctx.params['name']!, await ctx.body(), broker.options.maxQueues);
    return json(view.describeQueue(vhost, queue, sampler), created ? 201 : 200);
  });
  r.add('DELETE', '/api/queues/:vhost/:name', (ctx) =>
    json({
      messageCount: act.deleteQueue(
        vhostOf(ctx),
        ctx.params['name']!,
        queryFlag(ctx.query, 'ifUnused'),
        queryFlag(ctx.query, 'ifEmpty'),
      ),
    }),
  );
  r.add('DELETE', '/api/queues/:vhost/:name/contents', (ctx) =>
    json({ messageCount: act.purgeQueue(vhostOf(ctx), ctx.params['name']!) }),
  );
  r.add('POST', '/api/queues/:vhost/:name/get', async (ctx) =>
    json(await act.getMessages(vhostOf(ctx), ctx.params['name']!, await ctx.body())),
  );
  r.add('GET', '/api/queues/:vhost/:name/history', (ctx) =>
    json(sampler.queueHistory(act.requireQueue(vhostOf(ctx), ctx.params['name']!))),
  );
  r.add('GET', '/api/queues/:vhost/:name/bindings', (ctx) => {
    const vhost = vhostOf(ctx);
    const q = act.requireQueue(vhost, ctx.params['name']!);
    return json(view.describeBindings([vhost], (b) => b.destinationKind === 'queue' && b.destination === q.name));
  });

  // super streams (spec/semantics.md §Super streams)
  r.add('PUT', '/api/super-streams/:vhost/:name', async (ctx) =>
    json(act.declareSuperStream(vhostOf(ctx), ctx.params['name']!, await ctx.body()), 201),
  );

  // exchanges
  r.add('GET', '/api/exchanges', (ctx) => json(view.describeExchanges(vhosts(ctx))));
  r.add('GET', '/api/exchanges/:vhost', (ctx) => json(view.describeExchanges(vhosts(ctx))));
  r.add('GET', '/api/exchanges/:vhost/:name', (ctx) => {
    const vhost = vhostOf(ctx);
    return json(view.describeExchange(vhost, act.requireExchange(vhost, ctx.params['name']!)));
  });
  r.add('PUT', '/api/exchanges/:vhost/:name', async (ctx) => {
    const vhost = vhostOf(ctx);
    const { created } = act.declareExchange(vhost, ctx.params['name']!, await ctx.body());
    return json(view.describeExchange(vhost, act.requireExchange(vhost, ctx.params['name']!)), created ? 201 : 200);
  });
  r.add('DELETE', '/api/exchanges/:vhost/:name', (ctx) => {
    act.deleteExchange(vhostOf(ctx), ctx.params['name']!, queryFlag(ctx.query, 'ifUnused'));
    return { status: 204 };
  });
  r.add('POST', '/api/exchanges/:vhost/:name/publish', async (ctx) =>
    json(await act.publish(broker, vhostOf(ctx), ctx.params['name']!, await ctx.body())),
  );

  // bindings
  r.add('GET', '/api/bindings', (ctx) => json(view.describeBindings(vhosts(ctx))));
  r.add('GET', '/api/bindings/:vhost', (ctx) => json(view.describeBindings(vhosts(ctx))));
  for (const [letter, kind] of [
    ['q', 'queue'],
    ['e', 'exchange'],
  ] as [string, DestinationKind][]) {
    const base = `/api/bindings/:vhost/e/:source/${letter}/:destination`;
    r.add('GET', base, (ctx) => {
      const vhost = vhostOf(ctx);
      return json(
        act
          .bindingsBetween(vhost, ctx.params['source']!, kind, ctx.params['destination']!)
          .map((b) => view.describeBinding(vhost, b)),
      );
    });
    r.add('POST', base, async (ctx) => {
      const vhost = vhostOf(ctx);
      const b = act.bind(vhost, ctx.params['source']!, kind, ctx.params['destination']!, await ctx.body());
      return json(view.describeBinding(vhost, b), 201);
    });
    r.add('DELETE', `${base}/:props`, (ctx) => {
      act.unbind(vhostOf(ctx), ctx.params['source']!, kind, ctx.params['destination']!, ctx.params['props']!);
      return { status: 204 };
    });
  }

  // consumers, connections, channels
  r.add('GET', '/api/consumers', () => json(view.describeConsumers(broker.allConnections())));
  r.add('GET', '/api/consumers/:vhost', (ctx) => {
    const name = vhostOf(ctx).name;
    return json(view.describeConsumers(broker.allConnections(), (_q, v) => v === name));
  });
  r.add('GET', '/api/connections', () => json(view.describeConnections(broker)));
  r.add('GET', '/api/connections/:id', (ctx) => {
    const conn = act.requireConnection(broker, ctx.params['id']!);
    return json({ ...view.describeConnection(conn), channelDetails: view.describeChannels([conn]) });
  });
  r.add('GET', '/api/connections/:id/channels', (ctx) =>
    json(view.describeChannels([act.requireConnection(broker, ctx.params['id']!)])),
  );
  r.add('DELETE', '/api/connections/:id', (ctx) => {
    const header = ctx.req.headers['x-reason'];
    const reason =
      ctx.query.get('reason') ?? (typeof header === 'string' ? header : undefined) ?? 'closed via management API';
    act.closeConnection(broker, ctx.params['id']!, reason);
    return { status: 204 };
  });
  r.add('GET', '/api/channels', () => json(view.describeChannels(broker.allConnections())));

  // definitions
  r.add('GET', '/api/definitions', () => json(exportDefinitions(broker)));
  r.add('POST', '/api/definitions', async (ctx) => {
    const body = await ctx.body();
    try {
      const result = importDefinitions(broker, body);
      broker.logger.info('definitions imported via management API', { component: 'management', ...result });
      return json(result);
    } catch (err) {
      if (err instanceof DefinitionsError) throw new HttpError(400, 'bad_request', err.message, { field: err.path });
      throw err;
    }
  });

  // Prometheus and the dashboard
  // RabbitMQ's rabbitmq_prometheus split: /metrics aggregated unless metricsPerObject
  // (its return_per_object_metrics), /metrics/per-object always per queue.
  r.add('GET', '/metrics', () => ({
    stream: (write) => streamMetrics(broker, write, broker.options.metricsPerObject),
    contentType: PROMETHEUS_CONTENT_TYPE,
  }));
  r.add('GET', '/metrics/per-object', () => ({
    stream: (write) => streamMetrics(broker, write, true),
    contentType: PROMETHEUS_CONTENT_TYPE,
  }));
  r.add('GET', '/', () => {
    const f = files.get('index.html');
    return { text: f.body, contentType: f.contentType };
  });
  r.add('GET', '/dashboard/:file', (ctx) => {
    const f = files.get(ctx.params['file']!);
    return { text: f.body, contentType: f.contentType };
  });
  return r;
}
