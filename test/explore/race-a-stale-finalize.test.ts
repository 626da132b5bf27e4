/** Race (a): a new connection to a server racing the delayed-worker MRxFinalizeSrvCall of the old one. */
import { raceSuite } from "./_races.js";

raceSuite("stale-finalize", /^(leak|step create failed STATUS_CONNECTION_DISCONNECTED)$/, {
  random: { seed: 1, iterations: 3000 },
  pct: { seed: 1, iterations: 500 },
});
