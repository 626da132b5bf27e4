/** Race (d): MRxCreateSrvCall calling back twice when the transport fails. */
import { raceSuite } from "./_races.js";

raceSuite("callback-twice", /^stop bugcheck 0x00000027 (minirdrContract|useAfterFree)$/, {
  random: { seed: 1, iterations: 3000 },
  pct: { seed: 1, iterations: 500 },
});
