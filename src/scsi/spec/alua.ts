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
