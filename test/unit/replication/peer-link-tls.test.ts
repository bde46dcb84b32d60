// A primary dials its replicas by address (an IP on loopback and on most storage networks) over
// mutual TLS. Node 20 warns (DEP0123) when a TLS client sends an IP address as the SNI server
// name, which RFC 6066 forbids; the peer's identity is checked by its certificate's node name
// (checkPeerNode), so the link sends that name instead. The identity check must stay: a peer
// presenting another node's certificate is still refused.
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type OutgoingOp, outgoing, PeerLink } from '../../../src/replication/peer-link.js';
import {
  type HelloMessage,
  OpKind,
  type PrimaryMessage,
  type ReplicaMessage,
  replicationPackage,
} from '../../../src/replication/proto.js';
import { initCaDir, issueNodeFiles } from '../../../src/security/cert-files.js';
import { loadTls, tlsPeerSecurity } from '../../../src/security/tls.js';
import { silentLogger } from '../../../src/util/logger.js';
import { PEER_CHANNEL_OPTIONS } from '../../../src/util/proto.js';

const HELLO: HelloMessage = {
  volume: 'v',
  epoch: 1,
  primaryNode: 'n1',
  datasetId: 'd',
  regionSize: 1 << 20,
  size: 1 << 20,
  era: 'e',
  committedSize: 1 << 20,
};

describe('replication PeerLink over mutual TLS', () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'peer-link-tls-'));
  const warnings: Error[] = [];
  const onWarning = (w: Error) => warnings.push(w);
  let server: grpc.Server;
  let address = '';
  /** SNI server names the replica's TLS listener saw, one per connection. */
  const servernames: (string | false)[] = [];

  beforeAll(async () => {
    const pki = path.join(dir, 'pki');
    await initCaDir(pki);
    await issueNodeFiles(pki, 'n1');
    await issueNodeFiles(pki, 'n2');
    process.on('warning', onWarning);
    const n2 = tlsPeerSecurity(loadTls({ ca: 'pki/ca.crt', cert: 'pki/n2.crt', key: 'pki/n2.key' }, dir));
    server = new grpc.Server(PEER_CHANNEL_OPTIONS);
    server.addService(replicationPackage().Replication.service, {
      Mirror: (stream: grpc.ServerDuplexStream<PrimaryMessage, ReplicaMessage>) => {
        stream.on('data', (msg: PrimaryMessage) => {
          if (msg.hello) {
            stream.write({
              hello: {
                datasetId: 'd',
                hasValidData: true,
                highestEpoch: 1,
                regionSize: 1 << 20,
                dirtyBitmap: Buffer.alloc(0),
                checkpoint: null,
                intact: true,
              },
            });
            return;
          }
          const acks = (msg.ops?.ops ?? []).map((op) => ({ seq: op.seq, ok: true, error: '', checksum: 0 }));
          stream.write({ acks: { acks } });
        });
        stream.on('error', () => {});
      },
    });
    const port = await new Promise<number>((resolve, reject) =>
      server.bindAsync('127.0.0.1:0', n2.serverCredentials(), (err, p) => (err ? reject(err) : resolve(p))),
    );
    const listeners = (server as unknown as { http2Servers: Map<NodeJS.EventEmitter, unknown> }).http2Servers;
    for (const l of listeners.keys()) {
      l.on('secureConnection', (s: { servername?: string | false }) =>
        servernames.push(s.servername ?? false),
      );
    }
    address = `127.0.0.1:${port}`;
  });
  afterAll(() => {
    process.off('warning', onWarning);
    server.forceShutdown();
    rmSync(dir, { recursive: true, force: true });
  });

  function link(expect: string): PeerLink {
    const n1 = tlsPeerSecurity(loadTls({ ca: 'pki/ca.crt', cert: 'pki/n1.crt', key: 'pki/n1.key' }, dir));
    return new PeerLink({
      node: expect,
      address,
      epoch: 1,
      logger: silentLogger(),
      credentials: n1.channelCredentials(expect),
      maxInflightBytes: 1 << 20,
      ackTimeoutMs: 10_000,
      onDown: () => {},
      onAck: () => {},
    });
  }

  it('dials a replica by IP: the node name as server name, no DEP0123 warning, writes acked', async () => {
    const l = link('n2');
    try {
      const reply = await l.connect(HELLO, 10_000);
      expect(reply.datasetId).toBe('d');
      l.transition('in-sync');
      const op: OutgoingOp = outgoing(OpKind.WRITE, 0, 4096, Buffer.alloc(4096, 1));
      const ack = await l.send(op);
      expect(ack.ok).toBe(true);
    } finally {
      l.close('test done');
    }
    expect(servernames).toEqual(['n2']);
    expect(warnings.filter((w) => (w as { code?: string }).code === 'DEP0123')).toEqual([]);
  });

  it('still refuses a replica whose certificate names another node', async () => {
    const l = link('n3');
    try {
      await expect(l.connect(HELLO, 10_000)).rejects.toThrow(/peer certificate is node n2, expected node n3/);
    } finally {
      l.close('test done');
    }
  });
});
