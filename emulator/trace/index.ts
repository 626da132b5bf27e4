export { formatEvent, Trace, type TraceEvent, type TraceKind, traceChannel } from "./events.js";
