// Issue #6: `tandemctl volume resize` grows a shared volume live: every node serves the new
// capacity and initiators get CAPACITY DATA HAS CHANGED (06h/2Ah/09h); any shrink is refused at
// once with one clear line (exit 1), nothing changed. (Issue 15 made a replicated volume's
// growth live too: test/cluster/replicated-resize.test.ts.)
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Cluster, startCluster, tandemctl } from '../helpers/cluster.js';
import { parseReadCapacity16, readCapacity16 } from '../helpers/initiator/index.js';
import { MultipathClient, senseString } from '../helpers/multipath.js';
import { explain } from '../helpers/tools.js';
import { Status as ScsiStatus } from '../helpers/wire.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const capacity = (d: Buffer) => {
  const c = parseReadCapacity16(d);
  return Number(c.lastLba + 1n) * c.blockLength;
};

describe('volume resize', () => {
  let cluster: Cluster;
  let mp: MultipathClient;

  beforeAll(async () => {
    cluster = await startCluster({ nodes: 2, kind: 'shared', size: '256M' });
    mp = await MultipathClient.connect({
      paths: cluster.paths(),
      target: cluster.target,
      initiatorName: 'iqn.2026-11.org.tandem.test:resize',
    });
  });

  afterAll(async () => {
    await mp?.close();
    await cluster?.destroy();
  });

  it('grows a shared volume live on every node with CAPACITY DATA HAS CHANGED', async () => {
    const endpoint = cluster.node('a').admin!;
    for (const n of cluster.names) {
      const r = await mp.executeOn(n, readCapacity16(), { expectedDataIn: 32 });
      expect(r.status).toBe(ScsiStatus.GOOD);
      expect(capacity(r.data)).toBe(256 * 1024 * 1024);
    }
    const grown = await tandemctl(endpoint, ['volume', 'resize', 'vol0', '--size', '512M']);
    expect(grown.code, explain(grown)).toBe(0);
    for (const n of cluster.names) {
      const deadline = Date.now() + 10_000;
      let bytes = 0;
      let sawUa = false;
      while (Date.now() < deadline) {
        const s = mp.session(n)!;
        const r = await s.scsi(0, readCapacity16(), { expectedDataIn: 32 });
        if (r.status === ScsiStatus.CHECK_CONDITION && senseString(r.sense) === '06h/2Ah/09h') sawUa = true;
        if (r.status === ScsiStatus.GOOD) bytes = capacity(r.data);
        if (bytes === 512 * 1024 * 1024) break;
        await sleep(100);
      }
      expect(bytes, `capacity through ${n}`).toBe(512 * 1024 * 1024);
      expect(sawUa, `CAPACITY DATA HAS CHANGED through ${n}`).toBe(true);
    }
    const shrink = await tandemctl(endpoint, ['volume', 'resize', 'vol0', '--size', '128M', '--force']);
    expect(shrink.code, explain(shrink)).toBe(1);
    expect(shrink.stderr).toMatch(/cannot shrink/);
  }, 60_000);

  it('refuses to shrink a replicated volume, at once and with one line (growing one: replicated-resize.test.ts)', async () => {
    const endpoint = cluster.node('a').admin!;
    const created = await tandemctl(endpoint, [
      'volume',
      'create',
      'rep1',
      '--size',
      '32M',
      '--kind',
      'replicated',
    ]);
    expect(created.code, explain(created)).toBe(0);
    const r = await tandemctl(endpoint, ['volume', 'resize', 'rep1', '--size', '16M', '--force']);
    expect(r.code, explain(r)).toBe(1);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.stdout).toBe('');
    expect(r.stderr).toMatch(/a replicated volume cannot shrink/);
  }, 30_000);
});
