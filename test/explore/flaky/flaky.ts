/**
 * A mini-redirector that is not deterministic: it keeps a count of its loads in module state, which survives from
 * one run to the next, and its backend reports a leak on every odd-numbered load. The same scenario, seed and
 * schedule then fail once and pass the next time.
 */

import type { MiniRdrModule } from "../../../miniredirs/index.js";
import { nulmrxModule } from "../../../miniredirs/index.js";

let loads = 0;

export const miniRdr: MiniRdrModule = {
  ...nulmrxModule,
  name: "flaky",
  description: "nulmrx whose backend leaks on every other load (state kept between runs)",
  async load(em, setup) {
    const n = ++loads;
    const loaded = await nulmrxModule.load(em, setup);
    return { ...loaded, backendLeaks: () => (n % 2 === 1 ? [`load ${n} left a buffer behind`] : []) };
  },
};
