// SAM-5 5.3.1 status codes.
export const ScsiStatus = {
  GOOD: 0x00,
  CHECK_CONDITION: 0x02,
  CONDITION_MET: 0x04,
  BUSY: 0x08,
  RESERVATION_CONFLICT: 0x18,
  TASK_SET_FULL: 0x28,
  ACA_ACTIVE: 0x30,
  TASK_ABORTED: 0x40,
} as const;
export type ScsiStatusCode = (typeof ScsiStatus)[keyof typeof ScsiStatus];

// SAM-5 8.6 task attributes as carried by iSCSI (RFC 7143 11.3.1 ATTR).
export const TaskAttribute = {
  UNTAGGED: 0,
  SIMPLE: 1,
  ORDERED: 2,
  HEAD_OF_QUEUE: 3,
  ACA: 4,
} as const;
export type TaskAttributeCode = (typeof TaskAttribute)[keyof typeof TaskAttribute];
