// ClusterReservationStore's compare-and-set retry (DESIGN.md rule 7): once an attempt's outcome
// is unknown, it asks etcd again until etcd answers or the store closes (an error would tell the
// initiator a committed change was not made); a definite refusal of the first attempt rejects.
import { GRPCInvalidArgumentError } from 'etcd3';
import { describe, expect, it } from 'vitest';
import type { CasResult, Coordinator, JsonValue } from '../../../src/cluster/coordinator.js';
import { toClusterError } from '../../../src/cluster/etcd-retry.js';
import { ClusterReservationStore } from '../../../src/cluster/reservation-store.js';
import { EMPTY_STATE } from '../../../src/scsi/pr/state.js';
import { TandemError } from '../../../src/util/errors.js';
import { silentLogger } from '../../../src/util/logger.js';

const change = (generation: number) => ({
  state: { ...EMPTY_STATE, generation },
  unitAttentions: [],
  abort: [],
});
const lost = () =>
  new TandemError('TANDEM_ERR_CLUSTER_UNAVAILABLE', 'deadline exceeded', { retryable: true });
const refused = () => toClusterError(new GRPCInvalidArgumentError('etcdserver: request is too large'), 'cas');
const closed = () => new TandemError('TANDEM_ERR_CLUSTER_CLOSED', 'coordinator closed');

/** An etcd key in memory; `script` says what each compare-and-set call does before (or instead of) answering. */
function fake(script: Array<'ok' | 'commit-then-lose' | (() => Error)>) {
  let revision = 0;
  let value: JsonValue | undefined;
  const calls: number[] = [];
  const c = {
    nodeName: 'p1',
    async readReservations() {
      return { value, revision };
    },
    async acknowledgeReservations() {},
    async awaitReservationsApplied() {
      return { applied: [], missing: [] };
    },
    async compareAndSetReservations(
      _v: string,
      expected: number,
      v: JsonValue,
    ): Promise<CasResult<JsonValue>> {
      calls.push(Date.now());
      const step = script.shift() ?? 'ok';
      if (typeof step === 'function') throw step();
      if (expected !== revision) return { ok: false, current: { value, revision } };
      value = v;
      revision++;
      if (step === 'commit-then-lose') throw lost();
      return { ok: true, revision };
    },
  } as unknown as Coordinator;
  return { c, calls };
}

const open = (c: Coordinator) =>
  ClusterReservationStore.open({
    coordinator: c,
    volume: 'vol',
    servingNodes: () => ['p1'],
    logger: silentLogger(),
  });

describe('ClusterReservationStore compare-and-set retries', () => {
  it('asks again after lost answers and finds its own committed change: true', async () => {
    const { c, calls } = fake([lost, lost, 'commit-then-lose']);
    const s = await open(c);
    await expect(s.compareAndSet(0, change(1))).resolves.toBe(true);
    expect(calls.length).toBe(4);
    expect(s.get().state.generation).toBe(1);
    s.close();
  });

  it('once the outcome is unknown, every later error is asked again too', async () => {
    const { c, calls } = fake(['commit-then-lose', refused, closed, refused]);
    const s = await open(c);
    await expect(s.compareAndSet(0, change(1))).resolves.toBe(true);
    expect(calls.length).toBe(5);
    s.close();
  });

  it('a definite refusal of the first attempt rejects at once: nothing was committed', async () => {
    const { c, calls } = fake([refused]);
    const s = await open(c);
    await expect(s.compareAndSet(0, change(1))).rejects.toMatchObject({ retryable: false });
    expect(calls.length).toBe(1);
    expect(s.get().revision).toBe(0);
    s.close();
  });

  it('close() ends the wait between attempts at once, with the last error', async () => {
    const { c, calls } = fake(Array.from({ length: 1000 }, () => lost));
    const s = await open(c);
    const r = s.compareAndSet(0, change(1)).then(
      () => 'resolved',
      (e: unknown) => e,
    );
    while (calls.length < 5) await new Promise((res) => setTimeout(res, 10));
    const at = Date.now();
    s.close();
    const err = await r;
    expect(Date.now() - at).toBeLessThan(200);
    expect(err).toMatchObject({ code: 'TANDEM_ERR_CLUSTER_UNAVAILABLE', message: 'deadline exceeded' });
  });

  it('a closed store sends nothing and rejects with TANDEM_ERR_CLUSTER_CLOSED', async () => {
    const { c, calls } = fake([]);
    const s = await open(c);
    s.close();
    await expect(s.compareAndSet(0, change(1))).rejects.toMatchObject({ code: 'TANDEM_ERR_CLUSTER_CLOSED' });
    expect(calls.length).toBe(0);
  });
});
