import type { IdentityStore, NodeAddresses, PortGroup, PortId } from './coordinator.js';
import type { EmbeddedStore } from './embedded-store.js';
import { KeyLayout } from './keys.js';

/**
 * Identity without etcd: deterministic, so VPD 83h and port ids survive a restart:
 *   - target port group id 1; relative port ids 1, 2, … in the order of `node.portals`;
 *   - a volume's seed is the proposal (the configured volumeId) or else the volume name.
 */
export class EmbeddedIdentity implements IdentityStore {
  readonly #store: EmbeddedStore;
  readonly #node: NodeAddresses;
  #portGroup: PortGroup | undefined;

  constructor(store: EmbeddedStore, node: NodeAddresses) {
    this.#store = store;
    this.#node = node;
  }

  async allocatePortGroup(): Promise<PortGroup> {
    this.#store.assertOpen();
    if (!this.#portGroup) {
      const ports: PortId[] = this.#node.portals.map((portal, i) => ({ portal, relativePortId: i + 1 }));
      this.#portGroup = { node: this.#node.name, targetPortGroupId: 1, ports };
    }
    return this.#portGroup;
  }

  async portGroups(): Promise<PortGroup[]> {
    return this.#portGroup ? [this.#portGroup] : [];
  }

  async volumeSeed(volume: string, proposal?: string): Promise<string> {
    new KeyLayout('/embedded/').seed(volume); // same validation as etcd keys
    return proposal ?? volume;
  }
}
