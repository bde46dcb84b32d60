// Issue 12, check 3 (what TLS costs an I/O): the primary's ForwardServer learns who forwards from
// the client certificate. Reading it (grpc-js getAuthContext → TLSSocket.getPeerCertificate)
// builds a new object with fingerprints on every call, ~25 us of CPU; a Commands stream stays on
// one TLS connection, so the certificate is read once per stream, while membership and the
// claimed origin are still checked for every command.
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import tls from 'node:tls';
import * as grpc from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import {
  type ExecuteRequest,
  type ExecuteResponse,
  type ForwarderMessage,
  type ForwardServiceClient,
  forwardPackage,
} from '../../../src/cluster/forward-proto.js';
import { ForwardServer } from '../../../src/cluster/forward-server.js';
import type { ForwardedCommandExecutor } from '../../../src/scsi/forwarding.js';
import { initCaDir, issueNodeFiles } from '../../../src/security/cert-files.js';
import { loadTls, tlsPeerSecurity } from '../../../src/security/tls.js';
import { silentLogger } from '../../../src/util/logger.js';
import { peerChannelOptions } from '../../../src/util/proto.js';

function request(id: string, originNode: string): ExecuteRequest {
  return {
    id,
    originNode,
    volume: 'v',
    lun: 0,
    nexus: {
      initiatorName: 'iqn.2026-11.org.example:host',
      isid: '400001370000',
      relativePortId: 1,
      targetPortGroupId: 1,
      targetPortName: 't,t,0x1',
      targetName: 't',
      instance: 'i0',
    },
    tag: 1,
    cdb: Buffer.from([0x00, 0, 0, 0, 0, 0]),
    taskAttribute: 0,
    expectedLength: 0,
    readExpected: false,
    writeExpected: false,
    dataOut: Buffer.alloc(0),
  };
}

describe('forward server over mutual TLS', () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'forward-tls-'));
  let server: ForwardServer;
  let members = new Set(['n1', 'n2']);
  const executed: string[] = [];
  const files = (n: string) => ({ ca: 'pki/ca.crt', cert: `pki/${n}.crt`, key: `pki/${n}.key` });

  beforeAll(async () => {
    const pki = path.join(dir, 'pki');
    await initCaDir(pki);
    for (const n of ['n0', 'n1', 'n2']) await issueNodeFiles(pki, n);
    const executor: ForwardedCommandExecutor = {
      executeForwarded: async (fc) => {
        executed.push(fc.id);
        return { status: 0, transferLength: 0 };
      },
      resetFromPeer: async () => false,
    };
    const sec = tlsPeerSecurity(loadTls(files('n0'), dir));
    server = await ForwardServer.listen('127.0.0.1:0', executor, silentLogger(), undefined, {
      credentials: sec.serverCredentials(),
      isMember: (n) => members.has(n),
    });
  });
  afterAll(async () => {
    await server.close();
    rmSync(dir, { recursive: true, force: true });
  });

  /** Sends `reqs` as `as` on one Commands stream; resolves with the answers and how it ended. */
  async function commands(as: string, reqs: ExecuteRequest[], between?: (i: number) => void) {
    const creds = tlsPeerSecurity(loadTls(files(as), dir)).channelCredentials('n0');
    const Ctor = forwardPackage().Forward;
    const client = new Ctor(
      server.address,
      creds,
      peerChannelOptions('n0'),
    ) as unknown as ForwardServiceClient;
    const stream = client.Commands();
    const answers: string[] = [];
    let error: grpc.ServiceError | undefined;
    try {
      await new Promise<void>((resolve) => {
        stream.on('data', (r: ExecuteResponse) => {
          answers.push(r.id);
          if (answers.length < reqs.length) {
            between?.(answers.length);
            stream.write({ execute: reqs[answers.length] } as ForwarderMessage);
          } else resolve();
        });
        stream.on('error', (e: grpc.ServiceError) => {
          error = e;
          resolve();
        });
        stream.write({ execute: reqs[0] } as ForwarderMessage);
      });
    } finally {
      stream.cancel();
      client.close();
    }
    return { answers, error };
  }

  it('reads the caller certificate once per stream, not once per command', async () => {
    const reads = vi.spyOn(tls.TLSSocket.prototype, 'getPeerCertificate');
    try {
      const reqs = Array.from({ length: 5 }, (_, i) => request(`c${i}`, 'n1'));
      const { answers, error } = await commands('n1', reqs);
      expect(error).toBeUndefined();
      expect(answers).toEqual(['c0', 'c1', 'c2', 'c3', 'c4']);
      // On the server: once for the stream (the client side reads it in the handshake's identity check).
      const serverReads = reads.mock.contexts.filter((s) => (s as tls.TLSSocket).localPort === server.port);
      expect(serverReads).toHaveLength(1);
    } finally {
      reads.mockRestore();
    }
  });

  it('still refuses a command whose origin is not the certificate’s node', async () => {
    const { answers, error } = await commands('n2', [request('x0', 'n2'), request('x1', 'n1')]);
    expect(answers).toEqual(['x0']);
    expect(error?.code).toBe(grpc.status.PERMISSION_DENIED);
    expect(error?.details).toMatch(/origin node "n1" is not the certificate's node n2/);
    expect(executed).not.toContain('x1');
  });

  it('still checks membership for every command of a stream', async () => {
    const { answers, error } = await commands('n1', [request('m0', 'n1'), request('m1', 'n1')], () => {
      members = new Set(['n2']);
    });
    members = new Set(['n1', 'n2']);
    expect(answers).toEqual(['m0']);
    expect(error?.code).toBe(grpc.status.PERMISSION_DENIED);
    expect(error?.details).toMatch(/node n1 is not a live cluster member/);
    expect(executed).not.toContain('m1');
  });
});
