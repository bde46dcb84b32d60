import { Counter, Gauge, type Registry } from 'prom-client';

/** `tandem_iscsi_sessions`: the live normal sessions, read at scrape time. */
export function registerSessions(
  registers: Registry[],
  sessions: () => Iterable<{ target: string; portal: string }>,
): void {
  new Gauge({
    name: 'tandem_iscsi_sessions',
    help: 'Live iSCSI normal sessions, per target and portal',
    labelNames: ['target', 'portal'],
    registers,
    collect() {
      this.reset();
      for (const s of sessions()) this.labels(s.target, s.portal).inc();
    },
  });
}

/** `tandem_iscsi_refusals_total`: the iSCSI layer's refusals and budget waits, read at scrape time. */
export function registerRefusals(
  registers: Registry[],
  refusals: () => Iterable<[kind: string, count: number]>,
): void {
  new Counter({
    name: 'tandem_iscsi_refusals_total',
    help: 'What the iSCSI layer refused or held back, by kind: connections-per-source, connections-total, connections-in-login (TCP closed at accept), sessions-per-initiator (login OUT OF RESOURCES), task-set-full (TASK SET FULL / BUSY), immediate-command-reject (Reject 0x06), memory-connection and memory-node (a command waited for the memory budget)',
    labelNames: ['kind'],
    registers,
    collect() {
      this.reset();
      for (const [kind, n] of refusals()) this.labels(kind).inc(n);
    },
  });
}
