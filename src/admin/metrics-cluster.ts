import { Gauge, type Registry } from 'prom-client';

/** `tandem_alua_state`: this node's ALUA state of each volume it serves, read at scrape time. */
export function registerAlua(
  registers: Registry[],
  aluaStates: () => Iterable<{ volume: string; group: number; state: number }>,
): void {
  new Gauge({
    name: 'tandem_alua_state',
    help: "This node's asymmetric access state of each volume (SPC-4 code: 0 active/optimized, 1 non-optimized, 2 standby, 3 unavailable, 14 offline, 15 transitioning)",
    labelNames: ['volume', 'group'],
    registers,
    collect() {
      this.reset();
      for (const a of aluaStates()) this.labels(a.volume, String(a.group)).set(a.state);
    },
  });
}
