// Hostile iSCSI clients shared by test/integration/hostile.test.ts and the soak
// (test/soak/hostile.soak.ts), issue #13: the READ flood never read and the stalled connections.
import { readFileSync } from 'node:fs';
import net from 'node:net';
import { read10, testUnitReady } from './initiator/cdb.js';
import { buildScsiCommand, IscsiInitiator } from './initiator/index.js';
import { Status } from './wire.js';

const BLOCK = 512;
const MiB = 1 << 20;

/** Where a hostile client connects and whom it logs in to. */
export interface PortalTarget {
  host: string;
  port: number;
  target: string;
}

/** VmRSS of a process, in bytes. */
export function rssBytes(pid: number): number {
  const m = /^VmRSS:\s+(\d+)\s+kB/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  if (!m) throw new Error(`no VmRSS in /proc/${pid}/status`);
  return Number(m[1]) * 1024;
}

/**
 * A session that sends `count` READ(10)s of 2 MiB (of LUN `lun`, LBA 0) in one burst and never
 * reads its socket: immediate ones (the I bit) or windowed ones (consecutive CmdSNs, those past
 * MaxCmdSN are ignored by the target, RFC 7143 4.2.2.1). The caller closes it.
 */
export async function readFlood(
  to: PortalTarget,
  count: number,
  immediate: boolean,
  opts: { initiatorName?: string; lun?: number; timeoutMs?: number } = {},
): Promise<IscsiInitiator> {
  const lun = opts.lun ?? 0;
  const hog = await IscsiInitiator.connect({
    host: to.host,
    port: to.port,
    initiatorName:
      opts.initiatorName ?? `iqn.2026-12.org.tandem.test:hog-${immediate ? 'immediate' : 'windowed'}`,
    sessionType: 'Normal',
    targetName: to.target,
    timeoutMs: opts.timeoutMs ?? 10_000,
  });
  try {
    // The first command of a new nexus gets the power-on unit attention (SPC-4 6.4).
    for (let i = 0; i < 3; i++) if ((await hog.scsi(lun, testUnitReady())).status === Status.GOOD) break;
  } catch (err) {
    hog.close();
    throw err;
  }
  hog.socket.pause();
  for (let i = 0; i < count; i++) {
    hog.sendPdu(
      buildScsiCommand({
        lun,
        itt: hog.nextItt(),
        cmdSN: immediate ? hog.cmdSN : hog.allocCmdSN(),
        expStatSN: hog.expStatSN,
        cdb: read10(0, (2 * MiB) / BLOCK),
        expectedDataTransferLength: 2 * MiB,
        read: true,
        immediate,
      }),
    );
  }
  return hog;
}

/**
 * Opens `count` TCP connections that never send a byte (from `localAddress`, e.g. 127.0.0.2, when
 * given); resolves with them and how many the node closed within `settleMs` (the refused ones
 * are closed at once; `settleMs` gives the closes time to arrive).
 */
export async function stalledConnections(
  port: number,
  count: number,
  opts: { host?: string; localAddress?: string; settleMs?: number } = {},
): Promise<{ sockets: net.Socket[]; refused: number }> {
  const sockets: net.Socket[] = [];
  let refused = 0;
  await Promise.all(
    Array.from(
      { length: count },
      () =>
        new Promise<void>((resolve) => {
          const s = net.connect({
            host: opts.host ?? '127.0.0.1',
            port,
            ...(opts.localAddress ? { localAddress: opts.localAddress } : {}),
          });
          sockets.push(s);
          s.on('error', () => {});
          s.on('close', () => {
            refused++;
          });
          s.once('connect', () => resolve());
          s.once('error', () => resolve());
        }),
    ),
  );
  await new Promise((r) => setTimeout(r, opts.settleMs ?? 2000));
  return { sockets, refused };
}
