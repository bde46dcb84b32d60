// Partitions that heal, for tests (issue 14): each host (etcd, a node) runs in a network namespace
// of its own, on a bridge in the test's namespace (where the initiator runs). cut(from, to) adds a
// blackhole route for `to` inside `from`'s namespace: every packet `from` sends to `to` is dropped
// silently (no reset, no ICMP), as on a cut cable, while `to` → `from` still flows. TCP needs
// both directions, so a cut of one direction stalls the connections between the two, and the
// side that still hears the other learns of it only by its own timeouts. heal() deletes the
// route. Needs root and `ip` (iproute2); no netem/iptables (this kernel has neither).
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';

/** Why namespace-based partitions cannot run here, or undefined when they can. */
export function netnsUnavailable(): string | undefined {
  if (process.getuid?.() !== 0) return 'needs root (ip netns)';
  try {
    execFileSync('ip', ['-V'], { stdio: 'ignore' });
  } catch {
    return 'iproute2 (`ip`) is not installed';
  }
  return undefined;
}

export interface TestNet {
  /** Per host: its address (its namespace's eth0). */
  readonly address: Readonly<Record<string, string>>;
  /** The test's own address on the bridge (the initiator's). */
  readonly gateway: string;
  /** The namespace of a host (ip netns exec NS …). */
  namespace(host: string): string;
  /** argv that runs `cmd args` inside the host's namespace (exec's: the pid is the command's). */
  wrap(host: string, cmd: string, args: string[]): [string, string[]];
  /** Drops every packet `from` sends to `to` (`to` may be 'gateway': the initiator). */
  cut(from: string, to: string): void;
  heal(from: string, to: string): void;
  /** The cuts in place now, as `from->to`. */
  cuts(): string[];
  healAll(): void;
  destroy(): void;
}

const live = new Set<TestNet>();
let hooked = false;
function hook(): void {
  if (hooked) return;
  hooked = true;
  process.on('exit', () => {
    for (const n of live) n.destroy();
  });
}

function ip(args: string[]): void {
  execFileSync('ip', args, { stdio: ['ignore', 'ignore', 'pipe'] });
}

/** A /24 under 10.0.0.0/8 that no interface here uses yet. */
function freeSubnet(): string {
  const used = execFileSync('ip', ['-o', '-4', 'addr'], { encoding: 'utf8' });
  for (;;) {
    const b = randomBytes(2);
    const net = `10.${100 + (b[0]! % 150)}.${b[1]}`;
    if (!used.includes(` ${net}.`)) return net;
  }
}

/** Creates the bridge and one namespace per host (names: [a-z0-9]{1,8}). */
export function createTestNet(hosts: string[]): TestNet {
  hook();
  const id = randomBytes(3).toString('hex');
  const subnet = freeSubnet();
  const bridge = `tbr${id}`;
  const ns = (h: string) => `tandem-${id}-${h}`;
  const address: Record<string, string> = {};
  const gateway = `${subnet}.1`;
  const created: string[] = [];
  const cuts = new Set<string>();
  let destroyed = false;
  const net: TestNet = {
    address,
    gateway,
    namespace: ns,
    wrap: (host, cmd, args) => ['ip', ['netns', 'exec', ns(host), cmd, ...args]],
    cut(from, to) {
      const key = `${from}->${to}`;
      if (cuts.has(key)) return;
      const dst = to === 'gateway' ? gateway : address[to];
      if (!dst || !address[from]) throw new Error(`cut ${key}: unknown host`);
      ip(['-n', ns(from), 'route', 'add', 'blackhole', `${dst}/32`]);
      cuts.add(key);
    },
    heal(from, to) {
      const key = `${from}->${to}`;
      if (!cuts.delete(key)) return;
      const dst = to === 'gateway' ? gateway : address[to];
      ip(['-n', ns(from), 'route', 'del', 'blackhole', `${dst}/32`]);
    },
    cuts: () => [...cuts],
    healAll() {
      for (const key of [...cuts]) {
        const [from, to] = key.split('->') as [string, string];
        net.heal(from, to);
      }
    },
    destroy() {
      if (destroyed) return;
      destroyed = true;
      live.delete(net);
      for (const n of created) {
        try {
          ip(['netns', 'del', n]);
        } catch {
          // gone
        }
      }
      try {
        ip(['link', 'del', bridge]);
      } catch {
        // gone
      }
    },
  };
  live.add(net);
  try {
    ip(['link', 'add', bridge, 'type', 'bridge']);
    ip(['addr', 'add', `${gateway}/24`, 'dev', bridge]);
    ip(['link', 'set', bridge, 'up']);
    hosts.forEach((h, i) => {
      if (!/^[a-z0-9]{1,8}$/.test(h)) throw new Error(`bad host name ${h}`);
      const name = ns(h);
      ip(['netns', 'add', name]);
      created.push(name);
      const outer = `tv${id}${i}`;
      ip(['link', 'add', outer, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', name]);
      ip(['link', 'set', outer, 'master', bridge]);
      ip(['link', 'set', outer, 'up']);
      address[h] = `${subnet}.${10 + i}`;
      ip(['-n', name, 'addr', 'add', `${address[h]}/24`, 'dev', 'eth0']);
      ip(['-n', name, 'link', 'set', 'eth0', 'up']);
      ip(['-n', name, 'link', 'set', 'lo', 'up']);
    });
  } catch (err) {
    net.destroy();
    throw err;
  }
  return net;
}
