/**
 * Shared loader for the deliberately buggy nulmrx variants under test/explore/races: each variant is a subclass of
 * NulMrx with one race planted in it, exposed as a MiniRdrModule that a scenario names by path
 * (`setup.minirdr: ./stale-finalize.ts`).
 */
import type { Emulator } from "../../../emulator/boot.js";
import type { Rdbss } from "../../../emulator/rdbss/index.js";
import type { MiniRdrModule, MiniRdrSetup } from "../../../miniredirs/index.js";
import { NetworkProvider, nulmrxModule } from "../../../miniredirs/index.js";
import { IOCTL_NULMRX, NULMRX_DEVICE_NAME, type NulMrx, type NulMrxOptions } from "../../../miniredirs/nulmrx/index.js";

/** The nulmrx options a scenario's `setup.options` may give. */
export function nulOptions(setup: MiniRdrSetup): NulMrxOptions {
  const o = setup.options ?? {};
  return {
    ...(Array.isArray(o.shares) ? { shares: o.shares.map(String) } : {}),
    ...(typeof o.closeDelayedFiles === "number" ? { closeDelayedFiles: o.closeDelayedFiles } : {}),
  };
}

/** A variant that the runner can load: `make` builds the redirector, `leaks` reports what its backend still holds. */
export function nulVariant<T extends NulMrx>(
  name: string,
  description: string,
  make: (rx: Rdbss, setup: MiniRdrSetup) => T,
  leaks: (mrx: T) => string[] = () => [],
): MiniRdrModule {
  return {
    ...nulmrxModule,
    name,
    description,
    async load(em: Emulator, setup: MiniRdrSetup) {
      const mrx = make(em.rx, setup);
      const { status, driver } = await em.sys.io.IoCreateDriver(`\\FileSystem\\${name}`, (d) => mrx.DriverEntry(d));
      return {
        status,
        driver,
        provider: new NetworkProvider(em, NULMRX_DEVICE_NAME, IOCTL_NULMRX),
        leftAtUnload: () => mrx.leftAtUnload,
        backendLeaks: () => leaks(mrx),
        backend: mrx,
      };
    },
  };
}

/**
 * A point where the emulated driver can be preempted (a transport send or receive, a lock hand-off): a yield point
 * of the scheduler. Under the default FIFO schedule it never switches threads; exploration strategies may.
 */
export async function preemptible(rx: Rdbss, label: string): Promise<void> {
  const p = rx.k.schedulePoint(label);
  if (p) await p;
}
