// Issue #12, node to node: the forward service of a TLS cluster (deploy/local/cluster creates the
// CA and node certificates) refuses callers without a certificate of the cluster CA, and a node
// certificate may forward only as itself and only while its node is a live member.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type ForwardServiceClient, forwardPackage } from '../../src/cluster/forward-proto.js';
import { createCa, issueCert } from '../../src/security/ca.js';
import { type Cluster, startCluster } from '../helpers/cluster.js';

describe('trust: node-to-node forward service', () => {
  let cluster: Cluster;
  let grpcA: string;
  let tls: string;
  const clients: ForwardServiceClient[] = [];

  beforeAll(async () => {
    cluster = await startCluster({ nodes: 2 });
    grpcA = cluster.info.nodes.find((n) => n.name === 'a')!.grpc!;
    tls = path.join(cluster.dir, 'tls');
  }, 120_000);
  afterAll(async () => {
    for (const c of clients) c.close();
    await cluster?.down();
  });

  const read = (f: string) => readFileSync(path.join(tls, f));
  const dial = (creds: grpc.ChannelCredentials) => {
    const Ctor = forwardPackage().Forward;
    const c = new Ctor(grpcA, creds) as unknown as ForwardServiceClient;
    clients.push(c);
    return c;
  };
  // Any server certificate of the CA will do for these probes: the server's checks are under test.
  const anyServer = { checkServerIdentity: () => undefined };
  const reset = (c: ForwardServiceClient, originNode: string) =>
    new Promise<grpc.ServiceError | undefined>((resolve) => {
      c.Reset(
        { originNode, volume: 'vol0', unitAttention: 'BUS_DEVICE_RESET_FUNCTION_OCCURRED' } as never,
        { deadline: Date.now() + 5000 },
        (err: grpc.ServiceError | null) => resolve(err ?? undefined),
      );
    });

  it('no client certificate: the handshake is refused', async () => {
    const err = await reset(dial(grpc.credentials.createSsl(read('ca.crt'), null, null, anyServer)), 'b');
    expect(err?.code).toBe(grpc.status.UNAVAILABLE);
  });

  it('a node certificate from another CA: refused', async () => {
    const other = await createCa('someone else');
    const b = await issueCert(other, { name: 'b', kind: 'node' });
    const creds = grpc.credentials.createSsl(
      read('ca.crt'),
      Buffer.from(b.keyPem),
      Buffer.from(b.certPem),
      anyServer,
    );
    expect((await reset(dial(creds), 'b'))?.code).toBe(grpc.status.UNAVAILABLE);
  });

  it("node b's certificate claiming origin a: PERMISSION_DENIED; as itself: accepted", async () => {
    const c = dial(grpc.credentials.createSsl(read('ca.crt'), read('b.key'), read('b.crt'), anyServer));
    const err = await reset(c, 'a');
    expect(err?.code).toBe(grpc.status.PERMISSION_DENIED);
    expect(await reset(c, 'b')).toBeUndefined();
  });

  it('a node certificate of the CA for a non-member: PERMISSION_DENIED', async () => {
    const ca = { certPem: read('ca.crt').toString(), keyPem: read('ca.key').toString() };
    const z = await issueCert(ca, { name: 'z', kind: 'node' });
    const c = dial(
      grpc.credentials.createSsl(read('ca.crt'), Buffer.from(z.keyPem), Buffer.from(z.certPem), anyServer),
    );
    expect((await reset(c, 'z'))?.code).toBe(grpc.status.PERMISSION_DENIED);
  });
});
