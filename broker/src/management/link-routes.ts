import type { BrokerHost as Broker } from '../broker-host.js';
import type { LinkManager } from '../links/link-manager.js';
import type { RuntimeParameter } from '../links/parameter-file.js';
import { LinkParameterError } from '../links/shovel-params.js';
import { requireVhost } from './actions.js';
import { HttpError } from './http-util.js';
import type { Reply, RequestContext, Router } from './router.js';

/**
 * RabbitMQ's runtime-parameter, policy and link-status endpoints (spec/links.md §Management
 * API): `/api/parameters/{shovel,federation-upstream,federation-upstream-set}[/{vhost}[/{name}]]` and
 * `/api/policies[/{vhost}[/{name}]]` (GET, PUT, DELETE), `GET /api/shovels[/{vhost}]`,
 * `GET /api/federation-links[/{vhost}]` and the restart endpoints.
 */
export function addLinkRoutes(r: Router, broker: Broker): void {
  const links = (): LinkManager => {
    if (broker.links === undefined) throw new HttpError(503, 'unavailable', 'links are not running on this broker');
    return broker.links;
  };
  const json = (body: unknown, status = 200): Reply => ({ status, json: body });
  const component = (ctx: RequestContext): RuntimeParameter['component'] => {
    const c = ctx.params['component']!;
    if (c !== 'shovel' && c !== 'federation-upstream' && c !== 'federation-upstream-set')
      throw new HttpError(
        404,
        'not_found',
        `no runtime parameter component '${c}'; use shovel, federation-upstream or federation-upstream-set`,
      );
    return c;
  };
  const vhostName = (ctx: RequestContext): string => requireVhost(broker, ctx.params['vhost']!).name;

  r.add('GET', '/api/parameters/:component', (ctx) => json(links().parameters(component(ctx))));
  r.add('GET', '/api/parameters/:component/:vhost', (ctx) => json(links().parameters(component(ctx), vhostName(ctx))));
  r.add('GET', '/api/parameters/:component/:vhost/:name', (ctx) => {
    const p = links().parameter(component(ctx), vhostName(ctx), ctx.params['name']!);
    if (p === undefined) throw new HttpError(404, 'not_found', `no ${ctx.params['component']} '${ctx.params['name']}'`);
    return json(p);
  });
  r.add('PUT', '/api/parameters/:component/:vhost/:name', async (ctx) => {
    const c = component(ctx);
    const vhost = vhostName(ctx);
    const body = await ctx.body();
    try {
      const created = links().put(c, vhost, ctx.params['name']!, body['value']);
      broker.logger.info('runtime parameter set', {
        component: 'management',
        parameter: c,
        vhost,
        name: ctx.params['name'],
      });
      return created ? { status: 201, json: {} } : { status: 204 };
    } catch (err) {
      if (err instanceof LinkParameterError) throw new HttpError(400, 'bad_request', err.message, { field: err.field });
      throw err;
    }
  });
  r.add('DELETE', '/api/parameters/:component/:vhost/:name', async (ctx) => {
    if (!(await links().delete(component(ctx), vhostName(ctx), ctx.params['name']!)))
      throw new HttpError(404, 'not_found', `no ${ctx.params['component']} '${ctx.params['name']}'`);
    return { status: 204 };
  });

  // Policies: RabbitMQ's endpoints, with federation keys only (spec/links.md §Federated exchanges).
  r.add('GET', '/api/policies', () => json(links().policyList()));
  r.add('GET', '/api/policies/:vhost', (ctx) => json(links().policyList(vhostName(ctx))));
  r.add('GET', '/api/policies/:vhost/:name', (ctx) => {
    const p = links()
      .policyList(vhostName(ctx))
      .find((x) => x.name === ctx.params['name']);
    if (p === undefined) throw new HttpError(404, 'not_found', `no policy '${ctx.params['name']}'`);
    return json(p);
  });
  r.add('PUT', '/api/policies/:vhost/:name', async (ctx) => {
    const vhost = vhostName(ctx);
    const body = await ctx.body();
    try {
      const created = links().putPolicy(vhost, ctx.params['name']!, body);
      broker.logger.info('policy set', { component: 'management', vhost, name: ctx.params['name'] });
      return created ? { status: 201, json: {} } : { status: 204 };
    } catch (err) {
      if (err instanceof LinkParameterError) throw new HttpError(400, 'bad_request', err.message, { field: err.field });
      throw err;
    }
  });
  r.add('DELETE', '/api/policies/:vhost/:name', async (ctx) => {
    if (!(await links().deletePolicy(vhostName(ctx), ctx.params['name']!)))
      throw new HttpError(404, 'not_found', `no policy '${ctx.params['name']}'`);
    return { status: 204 };
  });

  r.add('GET', '/api/federation-links', () => json(links().federationStatuses()));
  r.add('GET', '/api/federation-links/:vhost', (ctx) => json(links().federationStatuses(vhostName(ctx))));
  r.add('DELETE', '/api/federation-links/vhost/:vhost/:upstream/restart', (ctx) => {
    if (!links().restartFederation(vhostName(ctx), ctx.params['upstream']!))
      throw new HttpError(404, 'not_found', `no federation link of upstream '${ctx.params['upstream']}'`);
    return { status: 204 };
  });

  r.add('GET', '/api/shovels', () => json(links().statuses()));
  r.add('GET', '/api/shovels/:vhost', (ctx) => json(links().statuses(vhostName(ctx))));
  r.add('DELETE', '/api/shovels/vhost/:vhost/:name/restart', (ctx) => {
    if (!links().restart(vhostName(ctx), ctx.params['name']!))
      throw new HttpError(404, 'not_found', `no shovel '${ctx.params['name']}'`);
    return { status: 204 };
  });
}
