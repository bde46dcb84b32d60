// DO NOT EDIT: generated from proto/ by `npm run proto` (proto/generate.mjs).
// biome-ignore-all format: generated code
// biome-ignore-all lint: generated code
// biome-ignore-all assist/source/organizeImports: generated code
// Original file: proto/tandem/forward/v1/forward.proto


/**
 * The initiator's I_T nexus as it exists on the forwarding node.
 */
export interface Nexus {
  /**
   * iSCSI initiator name (IQN)
   */
  'initiatorName'?: (string);
  /**
   * 12 hex digits
   */
  'isid'?: (string);
  /**
   * the relative target port the command arrived on
   */
  'relativePortId'?: (number);
  /**
   * that port's target port group
   */
  'targetPortGroupId'?: (number);
  /**
   * "<target iqn>,t,0x<tpgt>"
   */
  'targetPortName'?: (string);
  /**
   * target IQN
   */
  'targetName'?: (string);
  /**
   * Names this nexus's current session on the forwarding node (unique cluster-wide): state kept
   * per nexus session on the primary (EXTENDED COPY list ids) starts afresh with a new one.
   */
  'instance'?: (string);
}

/**
 * The initiator's I_T nexus as it exists on the forwarding node.
 */
export interface Nexus__Output {
  /**
   * iSCSI initiator name (IQN)
   */
  'initiatorName': (string);
  /**
   * 12 hex digits
   */
  'isid': (string);
  /**
   * the relative target port the command arrived on
   */
  'relativePortId': (number);
  /**
   * that port's target port group
   */
  'targetPortGroupId': (number);
  /**
   * "<target iqn>,t,0x<tpgt>"
   */
  'targetPortName': (string);
  /**
   * target IQN
   */
  'targetName': (string);
  /**
   * Names this nexus's current session on the forwarding node (unique cluster-wide): state kept
   * per nexus session on the primary (EXTENDED COPY list ids) starts afresh with a new one.
   */
  'instance': (string);
}
