import net from 'node:net';
import type { Logger } from '../util/logger.js';
import { Connection } from './conn.js';
import type { PortalOptions, TargetDirectory } from './portal-interface.js';
import type { Session } from './session.js';
import type { SessionRegistry } from './session-registry.js';

/** A network portal (RFC 7143 3.4.1): one TCP listener, many connections. */
export class Portal {
  readonly host: string;
  readonly port: number;
  readonly #server: net.Server;
  readonly #connections = new Set<Connection>();
  readonly #log: Logger;
  static #nextConnId = 1;

  private constructor(host: string, port: number, server: net.Server, log: Logger) {
    this.host = host;
    this.port = port;
    this.#server = server;
    this.#log = log;
  }

  static listen(
    host: string,
    port: number,
    opts: PortalOptions,
    directory: TargetDirectory,
    sessions: SessionRegistry,
    log: Logger,
  ): Promise<Portal> {
    return new Promise((resolve, reject) => {
      const server = net.createServer({ noDelay: true });
      let portal: Portal | undefined;
      server.on('connection', (socket) => {
        if (!portal) {
          socket.destroy();
          return;
        }
        const source = socket.remoteAddress ?? '';
        const refusal = sessions.connections.check(source);
        if (refusal) {
          portal.#refused(refusal, source);
          socket.destroy();
          return;
        }
        const id = Portal.#nextConnId++;
        const conn = new Connection(id, socket, opts, directory, sessions, portal.#log);
        const uncount = sessions.connections.add(source, {
          get inLogin() {
            return conn.session === undefined;
          },
        });
        portal.#connections.add(conn);
        const p = portal;
        void conn.closed.then(() => {
          uncount();
          p.#connections.delete(conn);
        });
      });
      server.once('error', reject);
      server.listen({ host, port, backlog: 128 }, () => {
        server.off('error', reject);
        const addr = server.address() as net.AddressInfo;
        portal = new Portal(host, addr.port, server, log.child({ portal: `${host}:${addr.port}` }));
        const p = portal;
        server.on('error', (err) => p.#log.error({ err }, 'portal listener error'));
        resolve(portal);
      });
    });
  }

  #refusedWarnedAt = 0;
  #refusedSince = 0;

  /** A refused connection: warned of at most every 10 s, with the count in between. */
  #refused(why: string, source: string): void {
    const now = Date.now();
    if (now - this.#refusedWarnedAt < 10_000) {
      this.#refusedSince++;
      return;
    }
    this.#log.warn(
      { why, source, refusedSinceLastWarning: this.#refusedSince },
      `connection refused: the ${why} connection cap is reached`,
    );
    this.#refusedWarnedAt = now;
    this.#refusedSince = 0;
  }

  get connectionCount(): number {
    return this.#connections.size;
  }

  /** The live normal (non-discovery) sessions logged in through this portal. */
  *sessions(): Generator<Session> {
    for (const c of this.#connections) {
      const s = c.session;
      if (s && !s.closed && s.type === 'Normal' && s.target) yield s;
    }
  }

  /** Stops accepting new connections (existing ones stay up). */
  stopAccepting(): void {
    this.#server.close();
  }

  /** Closes every connection and waits until they are gone. */
  async closeConnections(reason: string): Promise<void> {
    const all = [...this.#connections];
    for (const c of all) c.close(reason);
    await Promise.all(all.map((c) => c.closed));
  }
}
