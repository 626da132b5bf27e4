export { formatEvent, Trace, type TraceEvent, type TraceKind, traceChannel } from "./events.js";
export { createLogger, isLogLevel, LOG_LEVELS, type Logger, type LogLevel, silentLogger } from "./log.js";
export {
  CHROME_TRACE_CATEGORIES,
  type ChromeTrace,
  type ChromeTraceArgs,
  type ChromeTraceCategory,
  type ChromeTraceEvent,
  type ChromeTraceOptions,
  type ChromeTracePhase,
  chromeTraceJson,
  DPC_TID,
  NO_THREAD_TID,
  OBJECTS_PID,
  SYSTEM_PID,
  toChromeTrace,
  UNKNOWN_PID,
  writeChromeTrace,
} from "./perfetto.js";
