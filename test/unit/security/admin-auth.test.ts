import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import {
  ADMIN_RPC_ROLES,
  authorizeAdminCall,
  NODE_FORWARDED_RPCS,
} from '../../../src/security/admin-auth.js';

const proto = readFileSync(new URL('../../../proto/tandem/admin/v1/admin.proto', import.meta.url), 'utf8');
const rpcs = [...proto.matchAll(/^\s*rpc\s+(\w+)\s*\(/gm)].map((m) => m[1]);

describe('admin RPC roles', () => {
  it('has exactly one entry per RPC of admin.proto', () => {
    expect(rpcs.length).toBeGreaterThan(5);
    expect(Object.keys(ADMIN_RPC_ROLES).sort()).toEqual([...rpcs].sort());
  });

  it('refuses a call without a certificate as unauthenticated', () => {
    const d = authorizeAdminCall('Status', {}, undefined);
    expect(d).toMatchObject({ ok: false, code: 'unauthenticated' });
  });

  it('lets read-only read and refuses it every write', () => {
    const ro = { name: 'viewer', kind: 'read-only' as const };
    expect(authorizeAdminCall('Status', {}, ro)).toEqual({ ok: true, role: 'read-only' });
    expect(authorizeAdminCall('Metrics', {}, ro).ok).toBe(true);
    for (const rpc of Object.keys(ADMIN_RPC_ROLES).filter((r) => ADMIN_RPC_ROLES[r] === 'admin')) {
      expect(authorizeAdminCall(rpc, {}, ro)).toMatchObject({ ok: false, code: 'permission-denied' });
    }
  });

  it('needs admin to ask for secrets', () => {
    const ro = { name: 'viewer', kind: 'read-only' as const };
    expect(authorizeAdminCall('ExportConfig', { showSecrets: true }, ro)).toMatchObject({ ok: false });
    expect(authorizeAdminCall('ExportConfig', { showSecrets: false }, ro).ok).toBe(true);
    expect(authorizeAdminCall('ExportConfig', { showSecrets: true }, { name: 'ops', kind: 'admin' }).ok).toBe(
      true,
    );
  });

  it('refuses a node certificate and an unknown RPC', () => {
    expect(authorizeAdminCall('Status', {}, { name: 'a', kind: 'node' })).toMatchObject({ ok: false });
    expect(authorizeAdminCall('Nope', {}, { name: 'ops', kind: 'admin' })).toMatchObject({ ok: false });
  });

  it('lets a node certificate make only the calls a node forwards, never for secrets', () => {
    const node = { name: 'b', kind: 'node' as const };
    for (const rpc of Object.keys(ADMIN_RPC_ROLES)) {
      expect(authorizeAdminCall(rpc, {}, node).ok, rpc).toBe(NODE_FORWARDED_RPCS.has(rpc));
    }
    expect([...NODE_FORWARDED_RPCS].sort()).toEqual(['NodeStatus', 'Switchover', 'Verify']);
    expect(authorizeAdminCall('NodeStatus', { showSecrets: true }, node).ok).toBe(false);
  });
});
