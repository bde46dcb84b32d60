// RFC 1982 serial number arithmetic on 32 bits, used for CmdSN / StatSN / DataSN comparisons
// (RFC 7143 4.2.2.1).
export function snLt(a: number, b: number): boolean {
  return a !== b && ((a < b && b - a < 0x80000000) || (a > b && a - b > 0x80000000));
}
export function snLe(a: number, b: number): boolean {
  return a === b || snLt(a, b);
}
export function snAdd(a: number, n: number): number {
  return (a + n) >>> 0;
}
