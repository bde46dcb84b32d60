// etcd with authentication on and a user limited to the cluster's key prefix (issue 12, "an etcd
// role limited to the cluster's prefix"): the same role, grant and user as
// deploy/systemd/etcd-tandem-role.sh, made here through etcd3's API (etcdctl is not a test
// dependency). tandemd's settings mapping (etcdClientSettings: user + passwordFile → etcd3 `auth`)
// builds the coordinator's client: it registers, campaigns and is elected with only that role,
// and the same user is refused anything outside the prefix.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Etcd3 } from 'etcd3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { etcdClientSettings } from '../../src/security/tls.js';
import { type Etcd, startEtcd } from '../helpers/etcd.js';
import { coordinator, freshPrefix, memoryLogger, waitFor } from './support.js';

let etcd: Etcd;
let root: Etcd3;
const prefix = freshPrefix();
const dataDir = mkdtempSync(path.join(tmpdir(), 'tandem-etcd-auth-'));
const clients: Etcd3[] = [];

beforeAll(async () => {
  etcd = await startEtcd();
  const admin = new Etcd3({ hosts: [etcd.endpoint], credentials: etcd.credentials });
  clients.push(admin);
  // As deploy/systemd/etcd-tandem-role.sh: root first (etcd refuses auth enable without it),
  // then a role with readwrite on exactly the prefix, a user with only that role, auth on.
  await admin.role('root').create();
  await (await admin.user('root').create('root-secret')).addRole('root');
  const role = await admin.role('tandem-test').create();
  await role.grant({ permission: 'Readwrite', range: admin.range({ prefix }) });
  await (await admin.user('tandem').create('tandem-secret')).addRole('tandem-test');
  await admin.auth.authEnable();
  root = new Etcd3({
    hosts: [etcd.endpoint],
    credentials: etcd.credentials,
    auth: { username: 'root', password: 'root-secret' },
  });
  clients.push(root);
}, 30_000);

afterAll(async () => {
  for (const c of clients) c.close();
  await etcd?.kill();
  rmSync(dataDir, { recursive: true, force: true });
});

function tandemSettings() {
  writeFileSync(path.join(dataDir, 'etcd-password'), 'tandem-secret\n', { mode: 0o600 });
  return etcdClientSettings(
    {
      endpoints: [etcd.endpoint],
      ca: etcd.tls.ca,
      cert: etcd.tls.cert,
      key: etcd.tls.key,
      user: 'tandem',
      passwordFile: 'etcd-password',
    },
    { node: { dataDir }, insecure: false },
    memoryLogger().logger,
  );
}

describe('etcd auth: a user limited to the cluster prefix', () => {
  it('tandemd settings (user + passwordFile) reach etcd as that user: register, campaign, lead', async () => {
    const s = tandemSettings();
    expect(s.auth).toEqual({ username: 'tandem', password: 'tandem-secret' });
    const a = coordinator(etcd, 'node-a', prefix, {
      endpoints: s.endpoints,
      ...(s.credentials ? { credentials: s.credentials } : {}),
      ...(s.auth ? { auth: s.auth } : {}),
    });
    let acquired = false;
    a.on('leadershipAcquired', () => {
      acquired = true;
    });
    await a.start();
    a.campaign('vol0');
    await waitFor('node-a to lead vol0 with only the prefix role', () => acquired, 15_000);
    // Written as the limited user, under the prefix.
    const members = await root.getAll().prefix(`${prefix}members/`).keys();
    expect(members).toEqual([`${prefix}members/node-a`]);
  }, 30_000);

  it('the same user is refused outside the prefix, and a wrong password gets nothing', async () => {
    const s = tandemSettings();
    const limited = new Etcd3({ hosts: [etcd.endpoint], credentials: s.credentials!, auth: s.auth! });
    clients.push(limited);
    await limited.put(`${prefix}probe`).value('ok');
    await expect(limited.put('/tandem/other-cluster/probe').value('x')).rejects.toThrow(/permission denied/i);
    await expect(limited.get('/tandem/other-cluster/probe').string()).rejects.toThrow(/permission denied/i);
    const wrong = new Etcd3({
      hosts: [etcd.endpoint],
      credentials: s.credentials!,
      auth: { username: 'tandem', password: 'nope' },
    });
    clients.push(wrong);
    await expect(wrong.get(`${prefix}probe`).string()).rejects.toThrow(/authentication failed|invalid/i);
  });
});
