// Vital product data page codes (SPC-4 7.8, SBC-3 6.6).
export const VpdPage = {
  SUPPORTED_VPD_PAGES: 0x00,
  UNIT_SERIAL_NUMBER: 0x80,
  DEVICE_IDENTIFICATION: 0x83,
  EXTENDED_INQUIRY_DATA: 0x86,
  BLOCK_LIMITS: 0xb0,
  BLOCK_DEVICE_CHARACTERISTICS: 0xb1,
  LOGICAL_BLOCK_PROVISIONING: 0xb2,
} as const;

// SPC-4 7.6.1 protocol identifiers.
export const ProtocolIdentifier = {
  FCP: 0x0,
  SAS: 0x6,
  ISCSI: 0x5,
} as const;

// Mode page codes (SPC-4 7.5, SBC-3 6.4).
export const ModePage = {
  READ_WRITE_ERROR_RECOVERY: 0x01,
  CACHING: 0x08,
  CONTROL: 0x0a,
  INFORMATIONAL_EXCEPTIONS_CONTROL: 0x1c,
  ALL_PAGES: 0x3f,
} as const;
