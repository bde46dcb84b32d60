// The replica applies ops concurrently; OrderedRangeLock must make overlapping ops reach the
// device in the primary's (stream) order whatever order the device completes them in, and must
// never hold back an op that overlaps nothing before it.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { OrderedRangeLock } from '../../../src/replication/ordered-range-lock.js';

const SIZE = 64;

interface Op {
  readonly offset: number;
  readonly length: number;
  /** The byte the op writes over its range (its stream position, so every op differs). */
  readonly fill: number;
}

/**
 * A device whose writes land only when the test says so: `pending` holds the writes issued and
 * not yet completed, and `complete(i)` lands the i-th of them (in any order the test picks).
 */
class ControlledDevice {
  readonly bytes = Buffer.alloc(SIZE);
  readonly pending: { readonly op: Op; readonly land: () => void }[] = [];

  write(op: Op): Promise<void> {
    return new Promise((resolve) => {
      this.pending.push({
        op,
        land: () => {
          this.bytes.fill(op.fill, op.offset, op.offset + op.length);
          resolve();
        },
      });
    });
  }

  complete(i: number): Op {
    const [w] = this.pending.splice(i, 1);
    w!.land();
    return w!.op;
  }
}

/** Lets every promise chain that can run do so (an op released, a waiter started its write). */
const settle = () => new Promise<void>((resolve) => setImmediate(resolve));

/**
 * Applies `ops` the way ReplicaApply does — each one taken in stream order, synchronously, then
 * applied concurrently — with the device completing outstanding writes in the order `pick`
 * chooses among those issued. Without the lock every op is issued at once.
 */
async function apply(ops: readonly Op[], pick: (issued: number) => number, locked: boolean) {
  const dev = new ControlledDevice();
  const lock = new OrderedRangeLock();
  const issuedOrder: number[] = [];
  const done = ops.map(async (op) => {
    const hold = locked ? lock.take(op.offset, op.offset + op.length) : undefined;
    try {
      if (hold?.ready) await hold.ready;
      await dev.write(op);
    } finally {
      if (hold) lock.release(hold);
    }
  });
  let finished = false;
  void Promise.all(done).then(() => {
    finished = true;
  });
  await settle();
  while (!finished) {
    if (dev.pending.length === 0) throw new Error('no write issued while ops are still waiting: deadlock');
    issuedOrder.push(dev.complete(pick(dev.pending.length)).fill);
    await settle();
  }
  return { bytes: dev.bytes, issuedOrder, held: lock.size };
}

/** What the primary's order gives: the ops applied one after another. */
function sequential(ops: readonly Op[]): Buffer {
  const b = Buffer.alloc(SIZE);
  for (const op of ops) b.fill(op.fill, op.offset, op.offset + op.length);
  return b;
}

const overlapping: Op[] = [
  { offset: 0, length: 32, fill: 1 },
  { offset: 16, length: 32, fill: 2 },
  { offset: 8, length: 8, fill: 3 },
  { offset: 40, length: 24, fill: 4 },
  { offset: 0, length: 64, fill: 5 },
  { offset: 24, length: 4, fill: 6 },
];
const newestFirst = (issued: number) => issued - 1;

describe('OrderedRangeLock', () => {
  it('overlapping ops completed newest first still land in the primary order', async () => {
    const { bytes, held } = await apply(overlapping, newestFirst, true);
    expect(bytes).toEqual(sequential(overlapping));
    expect(held).toBe(0);
  });

  it('the same schedule without the lock diverges (the test can tell)', async () => {
    const { bytes } = await apply(overlapping, newestFirst, false);
    expect(bytes).not.toEqual(sequential(overlapping));
  });

  it('an op overlapping nothing before it goes to the device at once', async () => {
    const lock = new OrderedRangeLock();
    const a = lock.take(0, 4096);
    const b = lock.take(4096, 8192); // adjacent, not overlapping: [start, end) ranges
    const c = lock.take(100, 200);
    expect(a.ready).toBeUndefined();
    expect(b.ready).toBeUndefined();
    expect(c.ready).toBeInstanceOf(Promise);
    let cReady = false;
    void c.ready!.then(() => {
      cReady = true;
    });
    lock.release(b);
    await settle();
    expect(cReady).toBe(false);
    lock.release(a);
    await settle();
    expect(cReady).toBe(true);
    lock.release(c);
    expect(lock.size).toBe(0);
  });

  it('an op waits for every earlier overlapping hold, released in any order', async () => {
    const lock = new OrderedRangeLock();
    const a = lock.take(0, 10);
    const b = lock.take(20, 30);
    const c = lock.take(5, 25);
    let ready = false;
    void c.ready!.then(() => {
      ready = true;
    });
    lock.release(b);
    await settle();
    expect(ready).toBe(false);
    lock.release(a);
    await settle();
    expect(ready).toBe(true);
  });

  it('property: any ops, any device completion order → the bytes of the primary order', async () => {
    const opArb = fc
      .record({ offset: fc.integer({ min: 0, max: SIZE - 1 }), length: fc.integer({ min: 1, max: SIZE }) })
      .map(({ offset, length }) => ({ offset, length: Math.min(length, SIZE - offset) }));
    await fc.assert(
      fc.asyncProperty(
        fc.array(opArb, { minLength: 1, maxLength: 12 }),
        fc.array(fc.nat(), { minLength: 12, maxLength: 12 }),
        async (ranges, choices) => {
          const ops = ranges.map((r, i) => ({ ...r, fill: i + 1 }));
          let step = 0;
          const pick = (issued: number) => choices[step++ % choices.length]! % issued;
          const { bytes, issuedOrder, held } = await apply(ops, pick, true);
          expect(bytes).toEqual(sequential(ops));
          expect(held).toBe(0);
          // Overlapping ops reached the device in stream order.
          for (let i = 0; i < ops.length; i++) {
            for (let j = i + 1; j < ops.length; j++) {
              const a = ops[i]!;
              const b = ops[j]!;
              if (a.offset < b.offset + b.length && b.offset < a.offset + a.length) {
                expect(issuedOrder.indexOf(a.fill)).toBeLessThan(issuedOrder.indexOf(b.fill));
              }
            }
          }
        },
      ),
      { numRuns: 200 },
    );
  });
});
