import type net from 'node:net';
import tls from 'node:tls';
import * as grpc from '@grpc/grpc-js';
import type { Logger } from '../util/logger.js';

/** The admin API's TLS material: the node's own certificate and the cluster CA (bundle). */
export interface AdminTlsMaterial {
  readonly ca: Buffer;
  readonly cert: Buffer;
  readonly key: Buffer;
}

/** One bound admin listener; `close` ends it and every connection it accepted. */
export interface AdminListener {
  readonly port: number;
  close(): void;
}

/**
 * The admin API over TLS with client certificates, on its own TLS listener that hands each
 * accepted connection to grpc-js (Server.createConnectionInjector).
 *
 * Why not grpc-js's own createSsl: its only choices are "never ask for a certificate" and "refuse
 * the handshake without one". The admin API needs the third: a client without a certificate gets
 * through the handshake so that each call can answer UNAUTHENTICATED with what to do (issue 12,
 * check 4), while a certificate that does not chain to the cluster CA is refused right after the
 * handshake, exactly where Node refuses it with rejectUnauthorized. grpc-js's getAuthContext
 * reports only a certificate the TLS layer verified (socket.authorized), so identityOf never sees
 * an unverified one.
 */
export async function listenAdminTls(
  server: grpc.Server,
  host: string,
  port: number,
  m: AdminTlsMaterial,
  log: Logger,
): Promise<AdminListener> {
  const injector = server.createConnectionInjector(grpc.ServerCredentials.createInsecure());
  const sockets = new Set<net.Socket>();
  const tlsServer = tls.createServer(
    {
      ca: m.ca,
      cert: m.cert,
      key: m.key,
      requestCert: true,
      rejectUnauthorized: false,
      minVersion: 'TLSv1.2',
      ALPNProtocols: ['h2'],
    },
    (socket) => {
      socket.on('error', (err) => log.debug({ err: err.message }, 'admin TLS connection error'));
      const offered = socket.getPeerCertificate();
      if (!socket.authorized && offered && Object.keys(offered).length > 0) {
        log.warn(
          { remote: socket.remoteAddress, reason: socket.authorizationError?.toString() },
          'admin API: refused a client certificate that is not from the cluster CA',
        );
        socket.destroy();
        return;
      }
      sockets.add(socket);
      socket.once('close', () => sockets.delete(socket));
      injector.injectConnection(socket);
    },
  );
  tlsServer.on('tlsClientError', (err) => log.debug({ err: err.message }, 'admin API: TLS handshake failed'));
  await new Promise<void>((resolve, reject) => {
    tlsServer.once('error', reject);
    tlsServer.listen({ host: host.replace(/^\[(.*)\]$/, '$1'), port }, () => {
      tlsServer.off('error', reject);
      resolve();
    });
  });
  return {
    port: (tlsServer.address() as net.AddressInfo).port,
    close() {
      tlsServer.close();
      injector.destroy();
      for (const s of sockets) s.destroy();
    },
  };
}
