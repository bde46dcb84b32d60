// The forward server (and the replication service on its port) widens its HTTP/2 receive
// windows through grpc-js internals (src/cluster/grpc-server-windows.ts): this fails on a grpc-js
// that stops keeping them, before replicated writes crawl at 64 KiB per round trip again.
import http2 from 'node:http2';
import type * as grpc from '@grpc/grpc-js';
import { afterEach, describe, expect, it } from 'vitest';
import { ForwardServer } from '../../../src/cluster/forward-server.js';
import {
  RECEIVE_WINDOW_BYTES,
  widenConnectionWindow,
  widenReceiveWindow,
} from '../../../src/cluster/grpc-server-windows.js';
import type { ForwardedCommandExecutor } from '../../../src/scsi/forwarding.js';
import { silentLogger } from '../../../src/util/logger.js';

const DEFAULT_WINDOW = 65535;

async function until(what: string, cond: () => boolean, ms = 5000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

describe('gRPC server receive windows', () => {
  let server: ForwardServer | undefined;
  let client: http2.ClientHttp2Session | undefined;
  afterEach(async () => {
    client?.destroy();
    await server?.close();
  });

  it('the forward server offers a 16 MiB stream window and raises the connection window', async () => {
    server = await ForwardServer.listen('127.0.0.1:0', {} as ForwardedCommandExecutor, silentLogger());
    const session = http2.connect(`http://127.0.0.1:${server.port}`);
    client = session;
    await new Promise<void>((resolve, reject) => {
      session.once('remoteSettings', () => resolve());
      session.once('error', reject);
    });
    expect(session.remoteSettings.initialWindowSize).toBe(RECEIVE_WINDOW_BYTES);
    // The server's WINDOW_UPDATE on stream 0 follows its SETTINGS.
    await until('the connection window', () => session.state.remoteWindowSize === RECEIVE_WINDOW_BYTES);
    expect(session.state.remoteWindowSize).toBe(RECEIVE_WINDOW_BYTES);
  });

  it('a server whose internals are missing is reported, not silently left at 64 KiB', () => {
    const fake = {} as unknown as grpc.Server;
    expect(widenReceiveWindow(fake)).toBe(false);
    expect(widenConnectionWindow(fake)).toBe(false);
    expect(DEFAULT_WINDOW).toBeLessThan(RECEIVE_WINDOW_BYTES);
  });
});
