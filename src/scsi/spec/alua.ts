// SPC-4 6.36 asymmetric access states as REPORT TARGET PORT GROUPS encodes them.
export const AsymmetricAccessState = {
  ACTIVE_OPTIMIZED: 0x0,
  ACTIVE_NON_OPTIMIZED: 0x1,
  STANDBY: 0x2,
  UNAVAILABLE: 0x3,
  OFFLINE: 0xe,
  TRANSITIONING: 0xf,
} as const;
export type AsymmetricAccessStateCode = (typeof AsymmetricAccessState)[keyof typeof AsymmetricAccessState];

// SPC-4 6.36.2 Table 181: STATUS CODE of a target port group descriptor.
export const TargetPortGroupStatus = {
  NO_STATUS: 0x00,
  ALTERED_BY_SET_TARGET_PORT_GROUPS: 0x01,
  ALTERED_BY_IMPLICIT_ALUA: 0x02,
} as const;
