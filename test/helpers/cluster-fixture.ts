// The usual fixture of a cluster test: a describe block's beforeAll starts a cluster and connects
// a multipath client to all its paths; its afterAll closes the client, then destroys the cluster.
import { afterAll, beforeAll } from 'vitest';
import { type Cluster, type ClusterOptions, startCluster, startThreeWay } from './cluster.js';
import { MultipathClient, type MultipathOptions } from './multipath.js';

/** What the fixture holds once beforeAll has run (reading it earlier throws). */
export interface MultipathCluster {
  readonly cluster: Cluster;
  readonly mp: MultipathClient;
}

export interface TeardownOptions {
  /** Runs first in afterAll, with the cluster if it started: undo what a test froze. */
  readonly beforeTeardown?: (cluster: Cluster) => void;
}

/** Registers the fixture in the enclosing describe block and returns it. */
function register(
  start: () => Promise<{ cluster: Cluster; mp: MultipathClient }>,
  opts: TeardownOptions,
): MultipathCluster {
  let cluster: Cluster | undefined;
  let mp: MultipathClient | undefined;
  beforeAll(async () => {
    ({ cluster, mp } = await start());
  });
  afterAll(async () => {
    if (cluster) opts.beforeTeardown?.(cluster);
    await mp?.close();
    await cluster?.destroy();
  });
  const started = <T>(v: T | undefined): T => {
    if (v === undefined) throw new Error('the cluster fixture is read before its beforeAll ran');
    return v;
  };
  return {
    get cluster() {
      return started(cluster);
    },
    get mp() {
      return started(mp);
    },
  };
}

/** A cluster started with `options` and a multipath client (`client`) on all its paths. */
export function multipathCluster(
  options: ClusterOptions,
  client: Omit<MultipathOptions, 'paths' | 'target'>,
  teardown: TeardownOptions = {},
): MultipathCluster {
  return register(async () => {
    const cluster = await startCluster(options);
    try {
      const mp = await MultipathClient.connect({ paths: cluster.paths(), target: cluster.target, ...client });
      return { cluster, mp };
    } catch (err) {
      await cluster.destroy();
      throw err;
    }
  }, teardown);
}

/** A 3-node cluster whose vol0 is a three-way replicated volume (startThreeWay). */
export function threeWayCluster(options: Parameters<typeof startThreeWay>[0]): MultipathCluster {
  return register(() => startThreeWay(options), {});
}

/** SIGCONT to every node of `cluster`, whichever a test left frozen. */
export function thawNodes(cluster: Cluster): void {
  for (const n of cluster.nodes) {
    try {
      process.kill(n.pid, 'SIGCONT');
    } catch {
      // gone
    }
  }
}
