import type { EventEmitter } from 'node:events';
import type * as grpc from '@grpc/grpc-js';

/**
 * HTTP/2 flow-control windows of a grpc-js server: the one place Tandem reaches into grpc-js
 * internals. grpc-js (1.14) has no public server option for them: its channel option
 * 'grpc-node.flow_control_window' is read by the client transport only, and the server side is
 * grpc/grpc-node#3058 (open). Once a release honours that option on the server, pass it in
 * PEER_CHANNEL_OPTIONS and delete this file. Until then both fields are checked before use and a
 * missing one is reported (test/unit/cluster/grpc-server-windows.test.ts fails on a grpc-js
 * that no longer keeps them), instead of silently leaving the 64 KiB defaults.
 */
export const RECEIVE_WINDOW_BYTES = 16 << 20;

interface ServerInternals {
  /** Options grpc-js passes to http2.createServer / createSecureServer for each listener. */
  commonServerOptions?: { settings?: Record<string, unknown>; noDelay?: boolean };
  /** The server's HTTP/2 listeners (keys), one per bound address. */
  http2Servers?: Map<EventEmitter, unknown>;
}

/**
 * HTTP/2 gives every stream a 64 KiB receive window by default: a long-lived stream carrying
 * many writes at once (replication, forwarded commands at queue depth 32) then stalls until each
 * WINDOW_UPDATE comes back. Widens the stream window in the SETTINGS the server will offer, and
 * turns Nagle off on accepted sockets (small replies — acks, forwarded status — must not wait
 * for the previous segment's ACK), like grpc-js's client side. Call before bindAsync.
 * Returns false when this grpc-js keeps no such options (nothing was changed).
 */
export function widenReceiveWindow(server: grpc.Server): boolean {
  const s = (server as unknown as ServerInternals).commonServerOptions;
  if (!s) return false;
  s.settings = { ...s.settings, initialWindowSize: RECEIVE_WINDOW_BYTES };
  s.noDelay = true;
  return true;
}

/**
 * HTTP/2 also has a connection-wide receive window, 64 KiB by default and not an HTTP/2 setting,
 * so the stream window is not enough: every message larger than what is left of it waits for a
 * WINDOW_UPDATE round trip (64 KiB replicated writes crawled). Raises it on each new session of
 * the server's listeners, as grpc-js does on its client side. Call after bindAsync.
 * Returns false when this grpc-js keeps no listener map (nothing was changed).
 */
export function widenConnectionWindow(server: grpc.Server): boolean {
  const listeners = (server as unknown as ServerInternals).http2Servers;
  if (!(listeners instanceof Map)) return false;
  for (const l of listeners.keys()) {
    l.on('session', (session: { setLocalWindowSize?: (size: number) => void }) => {
      try {
        session.setLocalWindowSize?.(RECEIVE_WINDOW_BYTES);
      } catch {
        // a session that is already closing: nothing to widen
      }
    });
  }
  return true;
}
