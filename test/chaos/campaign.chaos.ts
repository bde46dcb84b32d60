// `npm run chaos -- --faults N --seed S` (test/chaos/cli.mjs passes them as CHAOS_FAULTS and
// CHAOS_SEED, --kinds as CHAOS_KINDS): the campaign of test/chaos/campaign.ts; it fails on any lost write, stale read,
// two-writer window, verify difference or round that did not recover.
import { expect, it } from 'vitest';
import { netnsUnavailable } from '../helpers/netns.js';
import { powerLossUnavailable } from '../helpers/powerloss.js';
import { FAULT_KINDS, type FaultKind, runCampaign } from './campaign.js';

it('chaos campaign', async () => {
  const cannot = powerLossUnavailable() ?? netnsUnavailable();
  expect(cannot, `the chaos campaign cannot run: ${cannot}`).toBeUndefined();
  const faults = Number(process.env.CHAOS_FAULTS ?? 200);
  const seed = Number(process.env.CHAOS_SEED ?? Math.floor(Math.random() * 2 ** 31));
  const kinds = (process.env.CHAOS_KINDS || FAULT_KINDS.join(',')).split(',') as FaultKind[];
  const unknown = kinds.filter((k) => !FAULT_KINDS.includes(k));
  expect(unknown, `unknown fault kinds (known: ${FAULT_KINDS.join(', ')})`).toEqual([]);
  const r = await runCampaign({ faults, seed, kinds });
  console.log(r.summary);
  expect(r.lostWrites, r.summary).toEqual([]);
  expect(r.staleReads, r.summary).toEqual([]);
  expect(r.twoWriters, r.summary).toEqual([]);
  expect(r.verifyDifferences, r.summary).toEqual([]);
  expect(r.errors, r.summary).toEqual([]);
});
