import * as grpc from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AdminCallError, AdminClient } from '../../../src/admin/admin-client.js';
import { formatProgressBytes, progressBar } from '../../../src/admin/admin-format.js';
import * as ops from '../../../src/admin/admin-ops.js';
import { AdminServer } from '../../../src/admin/admin-server.js';
import { histogramQuantile, scrape, topRows } from '../../../src/admin/admin-top.js';
import { TandemError } from '../../../src/util/errors.js';
import { silentLogger } from '../../../src/util/logger.js';
import { FakeBackend } from './admin-fake-backend.js';

const T = 'iqn.2026-11.org.tandem:cluster';
const H1 = 'iqn.1993-08.org.debian:01:host1';

describe('admin service over gRPC', () => {
  const backend = new FakeBackend();
  let server: AdminServer;
  let client: AdminClient;

  beforeAll(async () => {
    server = await AdminServer.listen('127.0.0.1:0', backend, silentLogger());
    client = new AdminClient(server.address, { timeoutMs: 3000 });
  });
  afterAll(async () => {
    client.close();
    await server.close();
  });

  it('Status and NodeStatus carry the typed structures', async () => {
    const s = await client.status();
    expect(s.mode).toBe('cluster');
    expect(s.nodes.map((n) => [n.name, n.up, n.targetPortGroupId])).toEqual([
      ['a', true, 1],
      ['b', false, 2],
    ]);
    expect(s.volumes[0]).toMatchObject({
      id: 'vol0',
      primary: 'a',
      epoch: 42,
      resyncTotalBytes: 4 * 2 ** 30,
    });
    expect(s.volumes[0]!.portGroups[1]).toEqual({ node: 'b', targetPortGroupId: 2, state: 'unavailable' });
    expect(s.sessions[0]!.isid).toBe('400001370000');
    const n = await client.nodeStatus();
    expect(n.volumes[0]).toMatchObject({ id: 'vol0', role: 'primary', replication: null });
    // The fan-out helper gives back exactly what the other node's backend said.
    const mine = await backend.nodeStatus();
    const theirs = await client.fetchNodeStatus();
    expect({ ...theirs, upSince: 0 }).toEqual({ ...mine, upSince: 0 });
  });

  it('config entries: put (create-only, CAS), get, list, delete; values validated', async () => {
    const r1 = await client.putConfig('targets', T, { iqn: T }, 0);
    await expect(client.putConfig('targets', T, { iqn: T }, 0)).rejects.toMatchObject({
      grpcCode: grpc.status.ABORTED,
      tandemCode: 'TANDEM_ERR_CLUSTER_CONFLICT',
    });
    const r2 = await client.putConfig('targets', T, { iqn: T, alias: 'c' }, r1);
    expect(r2).toBeGreaterThan(r1);
    expect(await client.getConfig('targets', T)).toEqual({
      kind: 'targets',
      name: T,
      value: { iqn: T, alias: 'c' },
      revision: r2,
    });
    expect(await client.getConfig('targets', 'iqn.2026-11.org.tandem:none')).toBeUndefined();
    // Without expectedRevision the backend gets undefined, not 0.
    await client.putConfig('volumes', 'v9', {
      id: 'v9',
      kind: 'shared',
      size: 4096,
      blockSize: 512,
      standby: false,
      readOnly: false,
    });
    expect(backend.calls.at(-1)).toEqual({
      method: 'putConfig',
      args: ['volumes', 'v9', expect.anything(), undefined],
    });
    expect((await client.listConfig('volumes')).entries.map((e) => e.name)).toEqual(['v9']);
    expect(await client.deleteConfig('volumes', 'v9')).toBe(true);
    expect(await client.deleteConfig('volumes', 'v9')).toBe(false);
    await expect(client.putConfig('volumes', 'bad', { id: 'bad', blockSize: 1000 })).rejects.toMatchObject({
      grpcCode: grpc.status.INVALID_ARGUMENT,
      tandemCode: 'TANDEM_ERR_CONFIG_INVALID',
    });
    await expect(client.listConfig('nonsense' as never)).rejects.toMatchObject({
      grpcCode: grpc.status.INVALID_ARGUMENT,
    });
  });

  it('maps backend errors to gRPC status codes with the TANDEM_ERR code in metadata', async () => {
    const cases: [Error, grpc.status, string | undefined][] = [
      [
        new TandemError('TANDEM_ERR_CLUSTER_UNAVAILABLE', 'etcd did not answer', { retryable: true }),
        grpc.status.UNAVAILABLE,
        'TANDEM_ERR_CLUSTER_UNAVAILABLE',
      ],
      [
        new TandemError('TANDEM_ERR_CLUSTER_NOT_LEADER', 'not primary'),
        grpc.status.FAILED_PRECONDITION,
        'TANDEM_ERR_CLUSTER_NOT_LEADER',
      ],
      [
        Object.assign(new Error('no volume x'), { code: 'TANDEM_ERR_ADMIN_NOT_FOUND' }),
        grpc.status.NOT_FOUND,
        'TANDEM_ERR_ADMIN_NOT_FOUND',
      ],
      [new Error('boom'), grpc.status.INTERNAL, undefined],
    ];
    for (const [err, status, code] of cases) {
      backend.failures.set('switchover', err);
      const e = await client.switchover('vol0', undefined).catch((x: unknown) => x);
      expect(e).toBeInstanceOf(AdminCallError);
      expect(e).toMatchObject({ grpcCode: status, tandemCode: code, message: err.message });
      expect((e as AdminCallError).unreachable).toBe(false);
    }
    backend.failures.delete('switchover');
    expect(await client.switchover('vol0', 'b')).toEqual({ volume: 'vol0', from: 'a', to: 'b', epoch: 43 });
  });

  it('Verify streams progress, then the result', async () => {
    const seen: [number, number][] = [];
    backend.verifyOutcome = {
      regions: 3,
      regionSize: 1024,
      differing: [{ node: 'b', offset: 1024, length: 1024 }],
    };
    const r = await client.verify('vol0', (d, t) => seen.push([d, t]));
    expect(r).toEqual(backend.verifyOutcome);
    expect(seen).toEqual([
      [0, 0],
      [1024, 3072],
      [2048, 3072],
      [3072, 3072],
    ]);
    backend.failures.set('verify', new TandemError('TANDEM_ERR_CLUSTER_NOT_LEADER', 'not primary'));
    await expect(client.verify('vol0', () => {})).rejects.toMatchObject({
      grpcCode: grpc.status.FAILED_PRECONDITION,
    });
    backend.failures.delete('verify');
  });

  it('ListConfig and GetConfig never return a CHAP secret; a read-modify-write keeps the stored one', async () => {
    backend.config.clear();
    await ops.targetCreate(client, T, 'cluster');
    await ops.chapSet(client, T, { user: 'host1', secret: 'host1secret123' });
    expect(JSON.stringify(await client.listConfig())).not.toContain('host1secret123');
    expect(JSON.stringify(await client.getConfig('targets', T))).not.toContain('host1secret123');
    await ops.aclAdd(client, T, 'iqn.2026-01.org.example:host1');
    expect(JSON.stringify((await backend.readConfig()).entries)).toContain('host1secret123');
  });

  it('ExportConfig hides secrets; ImportConfig keeps them, diffs, and replaces in one call', async () => {
    backend.config.clear();
    await ops.targetCreate(client, T, 'cluster');
    await ops.chapSet(client, T, { user: 'host1', secret: 'host1secret123' });
    await ops.volumeCreate(client, 'vol0', { size: '1G', kind: 'shared' });
    await ops.lunMap(client, T, 0, 'vol0');
    const before = await backend.readConfig();
    const ex = await client.exportConfig(false);
    expect(ex.yaml).not.toContain('host1secret123');
    expect(ex.revision).toBe(before.revision);
    const dry = await client.importConfig(ex.yaml, true);
    expect(dry).toEqual({ added: [], changed: [], removed: [], unchanged: 3, applied: false });
    const edited = ex.yaml.replace('size: 1073741824', 'size: 2147483648');
    const res = await client.importConfig(edited, false);
    expect(res).toEqual({ added: [], changed: ['volumes/vol0'], removed: [], unchanged: 2, applied: true });
    const after = await backend.readConfig();
    const strip = (x: typeof after) => x.entries.map(({ kind, name, value }) => ({ kind, name, value }));
    expect(strip(after).find((e) => e.kind === 'targets')).toEqual(
      strip(before).find((e) => e.kind === 'targets'),
    );
    expect(backend.calls.filter((c) => c.method === 'replaceConfig')).toHaveLength(1);
    await expect(client.importConfig('apiVersion: nope\n', false)).rejects.toMatchObject({
      grpcCode: grpc.status.INVALID_ARGUMENT,
      tandemCode: 'TANDEM_ERR_CONFIG_INVALID',
    });
  });

  it('Metrics returns the registry text; top computes rates and quantiles', async () => {
    const a = scrape(await client.metricsText(), 0);
    const b = scrape(await client.metricsText(), 2000);
    const [row] = topRows(a, b);
    expect(row).toMatchObject({ target: T, lun: '0', iops: 75, readIops: 50, writeIops: 25 });
    expect(row!.readBps).toBe(50 * 4096);
    expect(row!.p50).toBeGreaterThan(0.0005);
    expect(row!.p50).toBeLessThanOrEqual(0.001);
    expect(row!.p99).toBeGreaterThan(0.001);
    expect(row!.p99).toBeLessThanOrEqual(0.0025);
    expect(histogramQuantile(0.5, new Map())).toBeUndefined();
    expect(
      histogramQuantile(
        0.5,
        new Map([
          [0.1, 10],
          [Infinity, 10],
        ]),
      ),
    ).toBeCloseTo(0.05);
    expect(
      histogramQuantile(
        0.99,
        new Map([
          [0.1, 0],
          [Infinity, 10],
        ]),
      ),
    ).toBe(0.1);
  });

  it('a node that accepts but never answers fails at the deadline as unreachable', async () => {
    const net = await import('node:net');
    const sockets: import('node:net').Socket[] = [];
    const hung = net.createServer((s) => sockets.push(s));
    await new Promise<void>((r) => hung.listen(0, '127.0.0.1', () => r()));
    const port = (hung.address() as import('node:net').AddressInfo).port;
    const c = new AdminClient(`127.0.0.1:${port}`, { timeoutMs: 500 });
    const t0 = performance.now();
    const e = await c.status().catch((x: unknown) => x);
    const v = await c.verify('vol0', () => {}).catch((x: unknown) => x);
    c.close();
    for (const s of sockets) s.destroy();
    hung.close();
    expect(e).toMatchObject({ grpcCode: grpc.status.DEADLINE_EXCEEDED, unreachable: true });
    expect(v).toMatchObject({ grpcCode: grpc.status.DEADLINE_EXCEEDED, unreachable: true });
    expect(performance.now() - t0).toBeLessThan(3000);
  });

  it('a client of an endpoint where nothing listens fails fast as unreachable', async () => {
    const gone = await AdminServer.listen('127.0.0.1:0', backend, silentLogger());
    const addr = gone.address;
    await gone.close();
    const c = new AdminClient(addr, { timeoutMs: 5000 });
    const t0 = performance.now();
    const e = await c.status().catch((x: unknown) => x);
    c.close();
    expect(e).toBeInstanceOf(AdminCallError);
    expect((e as AdminCallError).unreachable).toBe(true);
    expect(performance.now() - t0).toBeLessThan(2000);
  });
});

describe('operations over the config store', () => {
  const backend = new FakeBackend();
  let server: AdminServer;
  let client: AdminClient;
  beforeAll(async () => {
    server = await AdminServer.listen('127.0.0.1:0', backend, silentLogger());
    client = new AdminClient(server.address);
  });
  afterAll(async () => {
    client.close();
    await server.close();
  });

  it('volumes: create, no duplicate, grow, no shrink without force, no delete while mapped', async () => {
    const v = await ops.volumeCreate(client, 'vol1', { size: '4G', replicas: ['a', 'b'], standby: true });
    expect(v).toEqual({
      id: 'vol1',
      kind: 'replicated',
      size: 4 * 2 ** 30,
      blockSize: 512,
      standby: true,
      readOnly: false,
      replicas: ['a', 'b'],
    });
    expect(backend.config.get('volumes/vol1')!.value).toEqual(v);
    await expect(ops.volumeCreate(client, 'vol1', { size: '1G' })).rejects.toThrow(/already exists/);
    await expect(ops.volumeCreate(client, 'vol2', { size: '1000', blockSize: 512 })).rejects.toThrow(
      /multiple of the block size/,
    );
    expect(await ops.volumeResize(client, 'vol1', '8G', false)).toEqual({
      from: 4 * 2 ** 30,
      to: 8 * 2 ** 30,
    });
    await expect(ops.volumeResize(client, 'vol1', '1G', false)).rejects.toMatchObject({
      message: 'volume vol1: 1 GiB is smaller than its 8 GiB: shrinking loses the data past the new end',
      hint: expect.stringMatching(/--force/),
    });
    await ops.targetCreate(client, T);
    await ops.lunMap(client, T, 3, 'vol1');
    await expect(ops.lunMap(client, T, 3, 'vol1')).rejects.toThrow(/already maps volume vol1/);
    await expect(ops.volumeDelete(client, 'vol1')).rejects.toThrow(`mapped by ${T} LUN 3`);
    await expect(ops.targetDelete(client, T, false)).rejects.toThrow(/still has LUN 3/);
    expect(await ops.targetDelete(client, T, true)).toEqual([{ target: T, lun: 3, volume: 'vol1' }]);
    await ops.volumeDelete(client, 'vol1');
    expect([...backend.config.keys()]).toEqual([]);
  });

  it('ACL and CHAP live in the target entry, in the embedded config shape', async () => {
    await ops.targetCreate(client, T, 'c');
    await ops.aclAdd(client, T, H1, [1, 0]);
    await ops.chapSet(client, T, {
      user: 'u',
      secret: 'host1secret123',
      mutualUser: 'm',
      mutualSecret: 'tandemsecret12',
    });
    expect(backend.config.get(`targets/${T}`)!.value).toEqual({
      iqn: T,
      alias: 'c',
      acl: [H1],
      aclLuns: { [H1]: [0, 1] },
      auth: {
        chap: { user: 'u', secret: 'host1secret123' },
        mutualChap: { user: 'm', secret: 'tandemsecret12' },
      },
    });
    await expect(ops.chapSet(client, T, { user: 'u', secret: 'short' })).rejects.toThrow(/12 to 16 bytes/);
    await expect(ops.aclAdd(client, T, 'not-an-iqn')).rejects.toThrow(/iSCSI name/);
    await ops.aclRemove(client, T, H1);
    expect(backend.config.get(`targets/${T}`)!.value).toMatchObject({ acl: [] });
    await ops.aclClear(client, T);
    await ops.chapClear(client, T);
    expect(backend.config.get(`targets/${T}`)!.value).toEqual({ iqn: T, alias: 'c' });
  });

  it('portals: desired portals per node', async () => {
    expect(await ops.portalAdd(client, 'a', '127.0.0.1:3260')).toEqual(['127.0.0.1:3260']);
    expect(await ops.portalAdd(client, 'a', '127.0.0.1:3261')).toEqual(['127.0.0.1:3260', '127.0.0.1:3261']);
    await expect(ops.portalAdd(client, 'a', '127.0.0.1:3261')).rejects.toThrow(/already has/);
    await expect(ops.portalAdd(client, 'a', 'nope')).rejects.toThrow(/HOST:PORT/);
    expect(await ops.portalRemove(client, 'a', '127.0.0.1:3260')).toEqual(['127.0.0.1:3261']);
    expect(await ops.portalRemove(client, 'a', '127.0.0.1:3261')).toEqual([]);
    expect(backend.config.has('portals/a')).toBe(false);
  });

  it('progress bar format', () => {
    expect(progressBar(1.7 * 2 ** 30, 4 * 2 ** 30, 10)).toBe('[####......] 42% 1.7/4.0 GiB');
    expect(formatProgressBytes(0, 100)).toBe('0/100 B');
  });
});
