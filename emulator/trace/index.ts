export { formatEvent, Trace, type TraceEvent, type TraceKind, traceChannel } from "./events.js";
export { createLogger, isLogLevel, LOG_LEVELS, type Logger, type LogLevel, silentLogger } from "./log.js";
