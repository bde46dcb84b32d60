import type { NodeAddresses, PortGroup } from '../cluster/coordinator.js';
import type { TargetPort } from '../scsi/command.js';

/** `HOST:PORT` or `[V6]:PORT` → host (no brackets) and port. */
export function parseHostPort(hp: string): { host: string; port: number } {
  const i = hp.lastIndexOf(':');
  const host = hp.slice(0, i).replace(/^\[|\]$/g, '');
  return { host, port: Number(hp.slice(i + 1)) };
}

/** host and port → `HOST:PORT`, an IPv6 host in brackets. */
export function hostPortName(host: string, port: number): string {
  return `${host.includes(':') ? `[${host}]` : host}:${port}`;
}

const hex4 = (n: number) => n.toString(16).padStart(4, '0');

/**
 * The SCSI target port of relative port `rel` in target port group `tpg`. Each portal is its own
 * portal group (DESIGN.md Identity), so TPGT = relative port id, and the port's name is
 * `<iqn>,t,0x<TPGT>` (RFC 7143 13.2 SCSI target port name).
 */
export function targetPort(iqn: string, rel: number, tpg: number): TargetPort {
  return { relativePortId: rel, targetPortGroupId: tpg, name: `${iqn},t,0x${hex4(rel)}`, targetName: iqn };
}

/**
 * One SendTargets TargetAddress (RFC 7143 13.8): `HOST:PORT,TPGT`. A portal listening on a
 * wildcard address answers with the address the initiator reached it on (`local`).
 */
export function sendTargetsAddress(host: string, port: number, tpgt: number, local: string): string {
  const h = host === '0.0.0.0' || host === '::' ? local : host;
  return `${hostPortName(h, port)},${tpgt}`;
}

/** Every port of every node's group, as target `iqn`'s ports (RTPG, INQUIRY MULTIP). */
export function targetPortsOf(iqn: string, groups: readonly PortGroup[]): TargetPort[] {
  return groups.flatMap((g) => g.ports.map((p) => targetPort(iqn, p.relativePortId, g.targetPortGroupId)));
}

/**
 * The other live nodes' portals as SendTargets addresses, `HOST:PORT,TPGT`, so one discovery
 * finds every path of a multipath setup; a wildcard listener has no address to give out.
 */
export function peerAddresses(
  me: string,
  members: readonly NodeAddresses[],
  groups: readonly PortGroup[],
): string[] {
  const out: string[] = [];
  for (const m of members) {
    if (m.name === me) continue;
    const g = groups.find((x) => x.node === m.name);
    for (const portal of m.portals) {
      const r = g?.ports.find((x) => x.portal === portal)?.relativePortId;
      if (r !== undefined && !/^(0\.0\.0\.0|\[::\]):/.test(portal)) out.push(`${portal},${r}`);
    }
  }
  return out;
}
