/**
 * Human-readable logs go through pino, to stderr, synchronously (so they never interleave with a report on
 * stdout and never leave work pending when the process exits). Level "silent" costs nothing per call.
 */
import pino, { type Logger } from "pino";

export type LogLevel = "trace" | "debug" | "info" | "warn" | "error" | "fatal" | "silent";
export const LOG_LEVELS: readonly LogLevel[] = ["trace", "debug", "info", "warn", "error", "fatal", "silent"];

export function isLogLevel(s: string): s is LogLevel {
  return (LOG_LEVELS as readonly string[]).includes(s);
}

export function createLogger(level: LogLevel = "warn", name = "rdbss"): Logger {
  return pino({ name, level, base: null }, pino.destination({ dest: 2, sync: true }));
}

/** A logger that drops everything (the default inside the emulated kernel). */
export const silentLogger: Logger = pino({ level: "silent" });

export type { Logger };
