// tandemctl status over the wire (the built CLI against an in-process admin server with a fake
// backend): a volume's recovery after etcd lost its replica set (issue 14, check 4) and each
// resyncing replica's rate and ETA from the primary's view, whichever node answers (issue 15).
import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AdminServer } from '../../../src/admin/admin-server.js';
import { silentLogger } from '../../../src/util/logger.js';
import { explain, run } from '../../helpers/tools.js';
import { FakeBackend } from './admin-fake-backend.js';

const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
const TANDEMCTL = path.join(REPO_ROOT, 'dist/cmd/tandemctl.js');
const MiB = 1 << 20;

describe('tandemctl status: recovery and resync rate', () => {
  let backend: FakeBackend;
  let server: AdminServer;

  beforeAll(async () => {
    if (!existsSync(TANDEMCTL)) throw new Error(`${TANDEMCTL} not found: run \`npm run build\` first`);
    backend = new FakeBackend();
    server = await AdminServer.listen('127.0.0.1:0', backend, silentLogger());
  });
  afterAll(async () => {
    await server.close();
  });

  const ok = async (args: string[]): Promise<string> => {
    const r = await run('node', [TANDEMCTL, ...args], {
      timeoutMs: 20_000,
      env: { TANDEM_ENDPOINT: server.address },
    });
    expect(r.code, explain(r)).toBe(0);
    return r.stdout;
  };

  it("shows which copy waits and why, which is the source, and b's resync rate and ETA", async () => {
    backend.tweakStatus = (s) => {
      const v = s.volumes[0]!;
      v.recovery = [
        {
          node: 'a',
          state: 'source',
          source: 'a',
          missing: ['b'],
          generation: { era: '0f1e2d3c-aaaa', epoch: 12, seq: 1 },
          reason:
            'the replica set of vol0 was re-created from this copy (the newest data): b is resynced from it',
        },
        {
          node: 'c',
          state: 'waiting-for-newest',
          source: 'a',
          missing: [],
          generation: { era: '0f1e2d3c-aaaa', epoch: 3, seq: 0 },
          newest: { era: '0f1e2d3c-aaaa', epoch: 12, seq: 1 },
          reason: 'a holds the newest data of vol0: waiting for it to re-create the replica set',
        },
      ];
      v.resyncPeers = [
        {
          node: 'b',
          state: 'resyncing',
          resyncDoneBytes: 2 ** 30,
          resyncTotalBytes: 4 * 2 ** 30,
          resyncRateBps: 20 * MiB,
          resyncEtaSeconds: 150,
          resyncResumed: true,
        },
      ];
    };
    try {
      const out = await ok(['status']);
      expect(out).toContain('Recovery\nVOLUME  NODE  STATE');
      expect(out).toMatch(
        /^vol0 +a +source +the replica set of vol0 was re-created from this copy \(the newest data\): b is resynced from it$/m,
      );
      expect(out).toMatch(
        /^vol0 +c +waiting-for-newest +this copy is stale \(epoch 3 seq 0, era 0f1e2d3c…; a holds epoch 12 seq 1, era 0f1e2d3c…\): a holds the newest data of vol0: waiting for it to re-create the replica set$/m,
      );
      // Per replica: progress, then the primary's rate and ETA; per volume the sum and the longest.
      expect(out).toMatch(/^vol0 +b +resyncing +25% 1 GiB\/4 GiB 20 MiB\/s ETA 2m30s$/m);
      expect(out).toMatch(
        /^vol0 +4 GiB +replicated +a,b +a +a +42 +25% 20 MiB\/s ETA 2m30s \(resumed\) +iqn/m,
      );
      const j = JSON.parse(await ok(['--json', 'status'])) as {
        volumes: Array<{ recovery: Array<{ node: string; state: string }>; resyncPeers: unknown[] }>;
      };
      expect(j.volumes[0]!.recovery.map((r) => [r.node, r.state])).toEqual([
        ['a', 'source'],
        ['c', 'waiting-for-newest'],
      ]);
      expect(j.volumes[0]!.resyncPeers).toHaveLength(1);
      const r = await ok(['resync']);
      expect(r).toMatch(/^vol0 +a +a +b +25% 1 GiB\/4 GiB \(resumed\) +20 MiB\/s +2m30s$/m);
    } finally {
      backend.tweakStatus = undefined;
    }
  });

  it('no Recovery table while nothing recovers', async () => {
    const out = await ok(['status']);
    expect(out).not.toContain('Recovery');
    expect(out).toMatch(/^vol0 +b +resyncing +25% 1 GiB\/4 GiB$/m);
  });
});
