// An in-memory AdminBackend for the admin service and tandemctl tests: configuration with etcd-like
// revisions and compare-and-set, a fixed two-node cluster status, scripted verify and metrics.

import type {
  AdminBackend,
  AdminConfigEntry,
  ClusterStatus,
  NodeStatus,
  SwitchoverOutcome,
  VerifyOutcome,
} from '../../../src/admin/admin-backend.js';
import type { ConfigKind, JsonValue } from '../../../src/cluster/coordinator.js';
import { TandemError } from '../../../src/util/errors.js';

export class FakeBackend implements AdminBackend {
  readonly mode = 'cluster' as const;
  revision = 100;
  readonly config = new Map<string, AdminConfigEntry>();
  /** Method name → error it throws (once set, every call). */
  readonly failures = new Map<string, Error>();
  readonly calls: { method: string; args: unknown[] }[] = [];
  verifyOutcome: VerifyOutcome = { regions: 4, regionSize: 1 << 20, differing: [] };
  /** Changes the status clusterStatus returns (`call`: 1 for the first call after it is set). */
  tweakStatus: ((s: ClusterStatus, call: number) => void) | undefined;
  #statusCalls = 0;
  #scrapes = 0;

  #check(method: string, args: unknown[]): void {
    this.calls.push({ method, args });
    const e = this.failures.get(method);
    if (e) throw e;
  }

  seed(kind: ConfigKind, name: string, value: JsonValue): void {
    this.revision++;
    this.config.set(`${kind}/${name}`, { kind, name, value, revision: this.revision });
  }

  async nodeStatus(): Promise<NodeStatus> {
    this.#check('nodeStatus', []);
    return {
      name: 'a',
      mode: 'cluster',
      portals: ['127.0.0.1:3260'],
      admin: '127.0.0.1:7070',
      grpc: '127.0.0.1:7071',
      upSince: Date.now() - 3_600_000,
      volumes: [{ id: 'vol0', role: 'primary', aluaState: 'active-optimized', epoch: 42, size: 2 ** 30 }],
      sessions: [],
    };
  }

  async clusterStatus(): Promise<ClusterStatus> {
    this.#check('clusterStatus', []);
    const now = Date.now();
    const s: ClusterStatus = {
      mode: 'cluster',
      node: 'a',
      nodes: [
        {
          name: 'a',
          up: true,
          portals: ['127.0.0.1:3260'],
          admin: '127.0.0.1:7070',
          grpc: '127.0.0.1:7071',
          targetPortGroupId: 1,
          upSince: now - 3_600_000,
        },
        {
          name: 'b',
          up: false,
          portals: ['127.0.0.1:3261'],
          admin: '127.0.0.1:7080',
          grpc: '127.0.0.1:7081',
          targetPortGroupId: 2,
          upSince: 0,
        },
      ],
      volumes: [
        {
          id: 'vol0',
          kind: 'replicated',
          size: 4 * 2 ** 30,
          replicas: ['a', 'b'],
          inSync: ['a'],
          primary: 'a',
          epoch: 42,
          portGroups: [
            { node: 'a', targetPortGroupId: 1, state: 'active-optimized' },
            { node: 'b', targetPortGroupId: 2, state: 'unavailable' },
          ],
          resyncDone: 2 ** 30,
          resyncTotal: 4 * 2 ** 30,
          luns: ['iqn.2026-11.org.tandem:cluster/0'],
          replicaStates: [
            { node: 'a', state: 'primary', resyncDoneBytes: 0, resyncTotalBytes: 0 },
            { node: 'b', state: 'resyncing', resyncDoneBytes: 2 ** 30, resyncTotalBytes: 4 * 2 ** 30 },
          ],
        },
      ],
      sessions: [
        {
          node: 'a',
          initiator: 'iqn.1993-08.org.debian:01:host1',
          isid: '400001370000',
          target: 'iqn.2026-11.org.tandem:cluster',
          portal: '127.0.0.1:3260',
          since: now - 60_000,
          connections: 1,
        },
      ],
      warnings: ['node b: down'],
    };
    if (this.tweakStatus) this.tweakStatus(s, ++this.#statusCalls);
    else this.#statusCalls = 0;
    return s;
  }

  async readConfig(): Promise<{ revision: number; entries: AdminConfigEntry[] }> {
    this.#check('readConfig', []);
    return { revision: this.revision, entries: [...this.config.values()].map((e) => ({ ...e })) };
  }

  async putConfig(
    kind: ConfigKind,
    name: string,
    value: JsonValue,
    expectedRevision?: number,
  ): Promise<number> {
    this.#check('putConfig', [kind, name, value, expectedRevision]);
    const cur = this.config.get(`${kind}/${name}`);
    if (expectedRevision !== undefined && (cur?.revision ?? 0) !== expectedRevision) {
      throw new TandemError('TANDEM_ERR_CLUSTER_CONFLICT', `${kind}/${name} changed`);
    }
    this.revision++;
    this.config.set(`${kind}/${name}`, { kind, name, value, revision: this.revision });
    return this.revision;
  }

  async deleteConfig(kind: ConfigKind, name: string, expectedRevision?: number): Promise<boolean> {
    this.#check('deleteConfig', [kind, name, expectedRevision]);
    const cur = this.config.get(`${kind}/${name}`);
    if (!cur) return false;
    if (expectedRevision !== undefined && cur.revision !== expectedRevision) {
      throw new TandemError('TANDEM_ERR_CLUSTER_CONFLICT', `${kind}/${name} changed`);
    }
    this.revision++;
    this.config.delete(`${kind}/${name}`);
    return true;
  }

  async replaceConfig(
    entries: readonly Omit<AdminConfigEntry, 'revision'>[],
    expectedRevision?: number,
  ): Promise<void> {
    this.#check('replaceConfig', [entries, expectedRevision]);
    if (expectedRevision !== undefined && expectedRevision !== this.revision) {
      throw new TandemError('TANDEM_ERR_CLUSTER_CONFLICT', 'configuration changed');
    }
    this.revision++;
    this.config.clear();
    for (const e of entries) this.config.set(`${e.kind}/${e.name}`, { ...e, revision: this.revision });
  }

  async switchover(volume: string, to?: string): Promise<SwitchoverOutcome> {
    this.#check('switchover', [volume, to]);
    return { volume, from: 'a', to: to ?? 'b', epoch: 43 };
  }

  async verify(volume: string, onProgress: (done: number, total: number) => void): Promise<VerifyOutcome> {
    this.#check('verify', [volume]);
    const total = this.verifyOutcome.regions * this.verifyOutcome.regionSize;
    for (let i = 1; i <= this.verifyOutcome.regions; i++) {
      await new Promise((r) => setTimeout(r, 5));
      onProgress(i * this.verifyOutcome.regionSize, total);
    }
    return this.verifyOutcome;
  }

  /** Each scrape: 100 more reads (4 KiB each, ~1 ms) and 50 more writes on LUN 0. */
  async metricsText(): Promise<string> {
    this.#check('metricsText', []);
    const n = ++this.#scrapes;
    const t = 'iqn.2026-11.org.tandem:cluster';
    const reads = 100 * n;
    const writes = 50 * n;
    const lines = [
      '# HELP tandem_scsi_commands_total SCSI commands completed, per LU and command class',
      '# TYPE tandem_scsi_commands_total counter',
      `tandem_scsi_commands_total{target="${t}",lun="0",class="read"} ${reads}`,
      `tandem_scsi_commands_total{target="${t}",lun="0",class="write"} ${writes}`,
      `tandem_scsi_bytes_total{target="${t}",lun="0",direction="in"} ${reads * 4096}`,
      `tandem_scsi_bytes_total{target="${t}",lun="0",direction="out"} ${writes * 4096}`,
    ];
    // Reads all in (0.0005, 0.001], writes in (0.001, 0.0025].
    for (const [cls, count, bucket] of [
      ['read', reads, 0.001],
      ['write', writes, 0.0025],
    ] as const) {
      for (const le of [0.0005, 0.001, 0.0025, 0.005]) {
        lines.push(
          `tandem_scsi_command_seconds_bucket{le="${le}",target="${t}",lun="0",class="${cls}"} ${le >= bucket ? count : 0}`,
        );
      }
      lines.push(
        `tandem_scsi_command_seconds_bucket{le="+Inf",target="${t}",lun="0",class="${cls}"} ${count}`,
      );
    }
    return `${lines.join('\n')}\n`;
  }
}
