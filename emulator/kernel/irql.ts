/**
 * Interrupt request levels (x64 numbering). Each emulated thread carries its current IRQL; DDIs declare the
 * highest IRQL they may be called at, and the kernel checks it on every call.
 */
export const Irql = {
  PASSIVE_LEVEL: 0,
  APC_LEVEL: 1,
  DISPATCH_LEVEL: 2,
  /** First device IRQL (DIRQL); device interrupts use 3..11 on x64. */
  DIRQL_MIN: 3,
  DIRQL_MAX: 11,
  CLOCK_LEVEL: 13,
  IPI_LEVEL: 14,
  POWER_LEVEL: 14,
  PROFILE_LEVEL: 15,
  HIGH_LEVEL: 15,
} as const;

export type KIRQL = number;

export const PASSIVE_LEVEL = Irql.PASSIVE_LEVEL;
export const APC_LEVEL = Irql.APC_LEVEL;
export const DISPATCH_LEVEL = Irql.DISPATCH_LEVEL;
export const HIGH_LEVEL = Irql.HIGH_LEVEL;

const NAMES: readonly string[] = [
  "PASSIVE_LEVEL",
  "APC_LEVEL",
  "DISPATCH_LEVEL",
  "DIRQL(3)",
  "DIRQL(4)",
  "DIRQL(5)",
  "DIRQL(6)",
  "DIRQL(7)",
  "DIRQL(8)",
  "DIRQL(9)",
  "DIRQL(10)",
  "DIRQL(11)",
  "IRQL(12)",
  "CLOCK_LEVEL",
  "IPI_LEVEL",
  "HIGH_LEVEL",
];

export function irqlName(irql: KIRQL): string {
  return NAMES[irql] ?? `IRQL(${irql})`;
}

export function isValidIrql(irql: number): boolean {
  return Number.isInteger(irql) && irql >= 0 && irql <= HIGH_LEVEL;
}
