/** Race (b): a change notification completing while it is being cancelled. */
import { raceSuite } from "./_races.js";

raceSuite("notify-cancel", /^stop bugcheck 0x00000044$/, {
  random: { seed: 1, iterations: 3000 },
  pct: { seed: 1, iterations: 500 },
});
