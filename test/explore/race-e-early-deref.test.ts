/** Race (e): a reference dropped early on an error path that only a particular interleaving reaches. */
import { raceSuite } from "./_races.js";

raceSuite("early-deref", /^stop bugcheck 0x00000027 references$/, {
  random: { seed: 1, iterations: 3000 },
  pct: { seed: 1, iterations: 500 },
});
