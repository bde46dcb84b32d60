// deploy/: the example cluster node files, the systemd units and the initiator settings stay
// consistent with the code they describe (config schema, INQUIRY identity strings).
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import YAML from 'yaml';
import { loadNodeConfig, nodeConfigSchema } from '../../../src/admin/config-schema.js';
import { PRODUCT, VENDOR } from '../../../src/scsi/spc/inquiry.js';
import { TANDEMD_NODE_FLAGS } from '../../helpers/daemon.js';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
const file = (rel: string) => path.join(root, rel);
const read = (rel: string) => fs.readFileSync(file(rel), 'utf8');

const NODE_FILES = ['deploy/examples/cluster-node-a.yaml', 'deploy/examples/cluster-node-b.yaml'];

type EtcdSetting = NonNullable<ReturnType<typeof loadNodeConfig>['cluster']>['etcd'];
const endpointsOf = (e: EtcdSetting): readonly string[] =>
  Array.isArray(e) ? e : (e as { endpoints: string[] }).endpoints;

describe('deploy/examples: cluster node files', () => {
  const configs = NODE_FILES.map((f) => loadNodeConfig(file(f)));

  it.each(NODE_FILES)('%s validates against the node config schema', (f) => {
    const r = nodeConfigSchema.safeParse(YAML.parse(read(f)));
    expect(r.success ? [] : r.error.issues).toEqual([]);
  });

  it('is a cluster: etcd, prefix, lease TTL and bootstrap the same on both nodes', () => {
    const [a, b] = configs as [(typeof configs)[0], (typeof configs)[0]];
    expect(a.cluster).toBeDefined();
    expect(endpointsOf(a.cluster!.etcd)).toHaveLength(3);
    expect(endpointsOf(b.cluster!.etcd)).toEqual(endpointsOf(a.cluster!.etcd));
    expect(b.cluster!.prefix).toBe(a.cluster!.prefix);
    expect(b.cluster!.leaseTtlSeconds).toBe(a.cluster!.leaseTtlSeconds);
    expect(a.bootstrap).toBeDefined();
    expect(b.bootstrap).toEqual(a.bootstrap);
    // The raw sections too: defaults must not hide a difference an admin would later rely on.
    const raw = NODE_FILES.map((f) => YAML.parse(read(f)).bootstrap);
    expect(raw[1]).toEqual(raw[0]);
  });

  it('bootstraps one target, one replicated 100G volume and LUN 0 on it', () => {
    const bs = configs[0]!.bootstrap!;
    expect(bs.targets).toHaveLength(1);
    expect(bs.volumes).toEqual([
      expect.objectContaining({ id: 'vol1', kind: 'replicated', size: 100 * 2 ** 30 }),
    ]);
    expect(bs.luns).toEqual([{ target: bs.targets[0]!.iqn, lun: 0, volume: 'vol1' }]);
  });

  it('gives each node its own name and concrete, distinct advertised addresses', () => {
    const [a, b] = configs as [(typeof configs)[0], (typeof configs)[0]];
    expect(a.node.name).not.toBe(b.node.name);
    for (const c of configs) {
      // Portal and gRPC addresses are published in etcd: wildcards and port 0 would be useless.
      for (const hp of [...c.portals, c.cluster!.grpc]) expect(hp).not.toMatch(/^(0\.0\.0\.0|\[::\]):|:0$/);
      expect(path.isAbsolute(c.node.dataDir)).toBe(true);
      expect(c.metrics?.listen).toBeDefined();
    }
    expect(b.portals).not.toEqual(a.portals);
    expect(b.cluster!.grpc).not.toBe(a.cluster!.grpc);
  });

  it('names the same etcd members as the etcd member example', () => {
    const env = read('deploy/systemd/etcd-tandem.env.example');
    const initial = /^ETCD_INITIAL_CLUSTER=(.+)$/m.exec(env)![1]!;
    const clients = initial.split(',').map((m) => m.split('=')[1]!.replace(/:2380$/, ':2379'));
    expect(endpointsOf(configs[0]!.cluster!.etcd)).toEqual(clients);
  });

  it('every channel is TLS: https etcd with its own CA, a client certificate and a user; node tls', () => {
    for (const c of configs) {
      const e = c.cluster!.etcd as Exclude<EtcdSetting, readonly string[]>;
      expect(Array.isArray(e)).toBe(false);
      for (const u of e.endpoints) expect(u).toMatch(/^https:\/\//);
      expect(e.ca).toBe('tls/etcd/ca.crt');
      expect([e.cert, e.key]).toEqual([`tls/etcd/${c.node.name}.crt`, `tls/etcd/${c.node.name}.key`]);
      expect(e.user).toBeDefined();
      expect(e.passwordFile).toBeDefined();
      expect(c.tls).toEqual({
        ca: 'tls/ca.crt',
        cert: `tls/${c.node.name}.crt`,
        key: `tls/${c.node.name}.key`,
      });
      expect(c.insecure).toBe(false);
      expect(c.metrics?.tls).toBeDefined();
    }
    const env = read('deploy/systemd/etcd-tandem.env.example');
    for (const k of ['ETCD_CERT_FILE', 'ETCD_KEY_FILE', 'ETCD_TRUSTED_CA_FILE', 'ETCD_PEER_CERT_FILE'])
      expect(env).toMatch(new RegExp(`^${k}=/etc/etcd/tls/`, 'm'));
    expect(env).toMatch(/^ETCD_CLIENT_CERT_AUTH=true$/m);
    expect(env).toMatch(/^ETCD_PEER_CLIENT_CERT_AUTH=true$/m);
    for (const k of ['ETCD_LISTEN_CLIENT_URLS', 'ETCD_ADVERTISE_CLIENT_URLS', 'ETCD_LISTEN_PEER_URLS']) {
      const v = new RegExp(`^${k}=(.+)$`, 'm').exec(env)![1]!;
      for (const u of v.split(',')) expect(u, k).toMatch(/^https:\/\//);
    }
  });

  it('the etcd role the README grants is the prefix the nodes use, with its trailing slash', () => {
    const prefix = configs[0]!.cluster!.prefix;
    const md = read('deploy/systemd/README.md');
    const user = (configs[0]!.cluster!.etcd as { user: string }).user;
    expect(md).toContain(`deploy/systemd/etcd-tandem-role.sh ${prefix} ${user}`);
    expect(md).toContain(`grant-permission ${user} --prefix=true readwrite ${prefix}/`);
    // The script grants PREFIX/ (tandemd appends the slash: src/daemon.ts, src/cluster/keys.ts).
    const script = read('deploy/systemd/etcd-tandem-role.sh');
    expect(script).toContain(['PREFIX=$', '{PREFIX%/}/'].join(''));
    expect(script).toMatch(/role grant-permission "\$ROLE" --prefix=true readwrite "\$PREFIX"/);
  });
});

describe('deploy/initiators: identity strings match INQUIRY', () => {
  it('multipath.conf matches the INQUIRY vendor and product', () => {
    const conf = read('deploy/initiators/multipath.conf');
    expect(/^\s*vendor\s+"([^"]*)"/m.exec(conf)?.[1]).toBe(VENDOR);
    expect(/^\s*product\s+"([^"]*)"/m.exec(conf)?.[1]).toBe(PRODUCT);
  });

  it('the Linux guide shows the same device section as multipath.conf', () => {
    const conf = read('deploy/initiators/multipath.conf');
    const settings = (text: string) =>
      [...text.matchAll(/^\t\t([a-z_]+)\t+(.+)$/gm)].map((m) => `${m[1]} ${m[2]}`);
    expect(settings(read('deploy/initiators/linux-open-iscsi.md'))).toEqual(settings(conf));
  });

  it('the ESXi claim rule names the INQUIRY vendor and model', () => {
    const md = read('deploy/initiators/vmware-esxi.md');
    expect(md).toContain(`-V ${VENDOR} -M "${PRODUCT}" -c tpgs_on`);
  });

  it('the Windows hardware id is the 8-byte vendor and 16-byte product, space-padded', () => {
    const md = read('deploy/initiators/windows-mpio.md');
    const id = VENDOR.padEnd(8, ' ') + PRODUCT.padEnd(16, ' ');
    expect(id).toHaveLength(24);
    expect(md).toContain(`mpclaim -r -i -d "${id}"`);
    // Every quoted hardware id in the guide is the right one (no stray mis-padded copy).
    for (const m of md.matchAll(/"(TANDEM[^"]*)"/g)) expect(m[1]).toBe(id);
  });
});

describe('deploy/systemd', () => {
  const directives = (text: string, key: string) =>
    text
      .split('\n')
      .filter((l) => l.startsWith(`${key}=`))
      .map((l) => l.slice(key.length + 1));

  it('every launcher runs tandemd with the V8 flags of its shebang line', () => {
    const shebang = read('cmd/tandemd.ts').split('\n')[0]!;
    const m = /^#!\/usr\/bin\/env -S node (.+)$/.exec(shebang);
    expect(m, shebang).not.toBeNull();
    const flags = m![1]!;
    expect(flags).toBe(TANDEMD_NODE_FLAGS.join(' '));
    const pkg = JSON.parse(read('package.json')) as { scripts: Record<string, string> };
    expect(pkg.scripts.start).toContain(`node ${flags} dist/cmd/tandemd.js`);
    expect(read('deploy/systemd/tandemd.service')).toContain(
      `/usr/bin/node ${flags} /opt/tandem/dist/cmd/tandemd.js`,
    );
    expect(read('deploy/quickstart.sh')).toContain(`ARGS=(${flags} dist/cmd/tandemd.js`);
    expect(read('test/bench/run.sh')).toContain(`node ${flags} "$TANDEMD"`);
    expect(read('deploy/local/cluster.mjs')).toContain(`const NODE_FLAGS = ['${flags}'];`);
  });

  it('tandemd.service runs the built tandemd.js with --config', () => {
    const unit = read('deploy/systemd/tandemd.service');
    const exec = directives(unit, 'ExecStart');
    expect(exec).toEqual([
      '/usr/bin/node --initial-heap-size=128 /opt/tandem/dist/cmd/tandemd.js --config /etc/tandem/node.yaml',
    ]);
    // dist/cmd/tandemd.js is the build of cmd/tandemd.ts (package.json "bin").
    const pkg = JSON.parse(read('package.json')) as { bin: Record<string, string> };
    expect(exec[0]).toContain(`/opt/tandem/${pkg.bin.tandemd}`);
    expect(fs.existsSync(file('cmd/tandemd.ts'))).toBe(true);
    expect(directives(unit, 'User')).toEqual(['tandem']);
    expect(directives(unit, 'StateDirectory')).toEqual(['tandem']);
    expect(directives(unit, 'ProtectSystem')).toEqual(['strict']);
    expect(directives(unit, 'ReadWritePaths')).toEqual(['/var/lib/tandem']);
    expect(directives(unit, 'Restart')).toEqual(['on-failure']);
    // These would break block-device backstores and V8's JIT.
    expect(directives(unit, 'PrivateDevices')).toEqual([]);
    expect(directives(unit, 'MemoryDenyWriteExecute')).toEqual([]);
    // The data directory the unit provides is the one the example node files use.
    for (const f of NODE_FILES) expect(loadNodeConfig(file(f)).node.dataDir).toBe('/var/lib/tandem');
  });

  it('etcd.service runs the Debian etcd with the Tandem member file', () => {
    const unit = read('deploy/systemd/etcd.service');
    expect(directives(unit, 'ExecStart')).toEqual(['/usr/bin/etcd']);
    expect(directives(unit, 'EnvironmentFile')).toEqual(['/etc/default/etcd-tandem']);
    expect(directives(unit, 'Type')).toEqual(['notify']);
  });
});
