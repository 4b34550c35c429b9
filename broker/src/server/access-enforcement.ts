import { ErrorCode } from '@switchyard/client/protocol';
import type { AccessRevocation } from '../auth/access-control.js';
import type { Session as ClientConnection } from './session.js';

/**
 * Applies an access change to the user's open connections, so a revocation takes effect now,
 * not at the next login (spec/security.md §Revoking access):
 * - user deleted: its connections are closed, 320 CONNECTION_FORCED "user 'x' was deleted"
 *   (RabbitMQ closes them the same way since 3.7);
 * - permissions on a vhost cleared: the user's connections to that vhost are closed (320), as
 *   a connection to a vhost the user may no longer open;
 * - permissions changed: consumers on queues the user may no longer read are cancelled with a
 *   consumer cancel notification (`cancelNotify`), RabbitMQ's way of ending a consumer the
 *   broker removed; later operations are checked against the new permissions;
 * - tokens revoked: connections that logged in with a token are closed (320).
 */
export function enforceRevocation(connections: Iterable<ClientConnection>, change: AccessRevocation): void {
  for (const conn of connections) {
    if (conn.user !== change.user || conn.vhostName === undefined) continue;
    switch (change.kind) {
      case 'userDeleted':
        conn.close(ErrorCode.CONNECTION_FORCED, `CONNECTION_FORCED - user '${change.user}' was deleted`);
        break;
      case 'permissionsCleared':
        if (conn.vhostName === change.vhost) {
          conn.close(
            ErrorCode.CONNECTION_FORCED,
            `CONNECTION_FORCED - access to vhost '${change.vhost}' revoked for user '${change.user}'`,
          );
        }
        break;
      case 'tokensRevoked':
        if (conn.viaToken)
          conn.close(
            ErrorCode.CONNECTION_FORCED,
            `CONNECTION_FORCED - login token of user '${change.user}' was revoked`,
          );
        break;
      case 'permissionsChanged':
        if (conn.vhostName === change.vhost) {
          const access = conn.access;
          for (const ch of conn.channelList()) ch.cancelUnreadableConsumers(access);
        }
        break;
    }
  }
}
