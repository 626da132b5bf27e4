/** Race (c): a close racing a forced connection delete. */
import { raceSuite } from "./_races.js";

raceSuite("close-vs-delete", /^stop bugcheck (0x0000007E|0x00000027 useAfterFree)$/, {
  random: { seed: 2, iterations: 3000 },
  pct: { seed: 1, iterations: 500 },
});
