/**
 * Race (b): a change notification completing while it is being cancelled. The worker's first touch of the request the
 * cancel routine already completed, and RDBSS freed, is its disarm: a use after free of the RX_CONTEXT
 * (useAfterFree.rx-context), before the second completion it goes on to make (0x44).
 */
import { raceSuite } from "./_races.js";

raceSuite("notify-cancel", /^stop bugcheck 0x00000027 useAfterFree$/, {
  random: { seed: 1, iterations: 3000 },
  pct: { seed: 1, iterations: 500 },
});
