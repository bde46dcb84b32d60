// Issue #12 attack 2: the node's Mirror authorizer, over etcd's leader record. With TLS the
// certificate names the caller; the Hello's primaryNode counts only on a plaintext channel.
import type { PeerCertificate } from 'node:tls';
import { describe, expect, it } from 'vitest';
import type { LeaderRecord } from '../../../src/cluster/coordinator.js';
import { ClusterMirrorAuthorizer } from '../../../src/node/mirror-authorizer.js';
import type { MirrorClaim, MirrorStream } from '../../../src/replication/index.js';

const plaintext = { getAuthContext: () => ({}) } as unknown as MirrorStream;
const tls = (subject: Record<string, string> | undefined) =>
  ({
    getAuthContext: () => ({
      transportSecurityType: 'ssl',
      sslPeerCertificate: subject ? ({ subject } as unknown as PeerCertificate) : undefined,
    }),
  }) as unknown as MirrorStream;

const leader: LeaderRecord = { volume: 'vol0', node: 'a', epoch: 40 };
const authorizer = (record: LeaderRecord | undefined = leader, joined = true) =>
  new ClusterMirrorAuthorizer(() =>
    joined ? { era: 'era-1', leader: async (v) => (v === 'vol0' ? record : undefined) } : undefined,
  );
const claim = (over: Partial<MirrorClaim> = {}): MirrorClaim => ({
  volume: 'vol0',
  epoch: 40,
  era: 'era-1',
  primaryNode: 'a',
  ...over,
});

describe('ClusterMirrorAuthorizer', () => {
  it("accepts etcd's primary at exactly its epoch", async () => {
    await expect(authorizer().authorizeMirror(plaintext, claim())).resolves.toBeUndefined();
    await expect(
      authorizer().authorizeMirror(tls({ CN: 'a', OU: 'node' }), claim()),
    ).resolves.toBeUndefined();
  });

  it.each([
    ['another member', claim({ primaryNode: 'b' }), /b is not the primary of vol0 \(etcd: a\)/],
    ['an epoch beyond etcd', claim({ epoch: 2 ** 54 }), /epoch 18014398509481984 is not .*40/],
    ['an older epoch', claim({ epoch: 39 }), /epoch 39 is not/],
    ['an empty era', claim({ era: '' }), /names no etcd era/],
    ['another era', claim({ era: 'era-0' }), /era era-0 is not this cluster's/],
    ['a volume with no primary', claim({ volume: 'vol9' }), /no primary for vol9/],
  ])('refuses %s', async (_what, c, why) => {
    await expect(authorizer().authorizeMirror(plaintext, c)).rejects.toThrow(why);
  });

  it("with TLS the certificate's node name is the caller, whatever the Hello claims", async () => {
    // b's certificate claiming to be a.
    await expect(
      authorizer().authorizeMirror(tls({ CN: 'b', OU: 'node' }), claim({ primaryNode: 'a' })),
    ).rejects.toThrow(/b is not the primary/);
    await expect(authorizer().authorizeMirror(tls({ CN: 'a', OU: 'admin' }), claim())).rejects.toThrow(
      /no node certificate/,
    );
    await expect(authorizer().authorizeMirror(tls(undefined), claim())).rejects.toThrow(
      /no node certificate/,
    );
  });

  it('refuses everything before the node has joined the cluster', async () => {
    await expect(authorizer(leader, false).authorizeMirror(plaintext, claim())).rejects.toThrow(/not joined/);
  });
});
