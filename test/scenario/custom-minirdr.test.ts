/**
 * A user's own mini-redirector under scenarios, through the package's public API (the example in
 * docs/SCENARIOS.md, "From your own tests"): HelloMrx from docs/WRITING-A-MINIRDR.md passes; a variant that breaks
 * the two-phase construction contract is stopped with the check that names it.
 */
import test from "ava";
import {
  formatProblem,
  formatReport,
  type MiniRdrModule,
  type NTSTATUS,
  runScenario,
  STATUS,
  scenarioFromObject,
} from "rdbss-emulator";
import { NetworkProvider } from "../../miniredirs/index.js";
import { HELLO_DEVICE_NAME, HelloMrx, IOCTL_HELLO } from "./_hellomrx.js";

/** Calls back twice: the bug DESIGN §4's two-phase construction contract is there to catch. */
class TwiceHello extends HelloMrx {
  override MRxCreateSrvCall(_srvCall: unknown, cb: Parameters<HelloMrx["MRxCreateSrvCall"]>[1]): NTSTATUS {
    cb.Status = STATUS.STATUS_SUCCESS;
    cb.SrvCalldownStructure.CallBack(cb);
    cb.SrvCalldownStructure.CallBack(cb);
    return STATUS.STATUS_PENDING;
  }
}

function helloModule(make: (rx: ConstructorParameters<typeof HelloMrx>[0]) => HelloMrx): MiniRdrModule {
  return {
    name: "hellomrx",
    description: "docs/WRITING-A-MINIRDR.md section 11",
    deviceName: HELLO_DEVICE_NAME,
    ioctls: IOCTL_HELLO,
    capabilities: { changeNotifications: false, delayedClose: false },
    usesServers: false,
    async load(em) {
      const mrx = make(em.rx);
      let left: string[] | null = null;
      const { status, driver } = await em.sys.io.IoCreateDriver("\\FileSystem\\HelloMrx", (d) => mrx.DriverEntry(d));
      driver.DriverUnload = async () => {
        if (mrx.device) left = await em.rx.RxUnregisterMinirdr(mrx.device as never);
      };
      return {
        status,
        driver,
        provider: new NetworkProvider(em, HELLO_DEVICE_NAME, IOCTL_HELLO),
        leftAtUnload: () => left,
        backendLeaks: () => [],
        backend: mrx,
      };
    },
  };
}

const steps = [
  { op: "net-use", drive: "H", remote: "\\\\hello\\world" },
  { op: "create", path: "H:\\greeting.txt", as: "h" },
  { op: "write", handle: "h", offset: 0, data: "hello, world" },
  { op: "read", handle: "h", offset: 0, length: 64, expect: { data: "hello, world" } },
  { op: "close", handle: "h" },
  { op: "net-use-delete", drive: "H", force: "FALSE" },
] as const;

/** The steps above as a scenario on HelloMrx, passed to the runner by name. */
function helloScenario() {
  return scenarioFromObject({ name: "hello", setup: { minirdr: "hello" }, steps: [...steps] }, "hello-scenario", {
    modules: { hello: helloModule((rx) => new HelloMrx(rx)) },
  });
}

test("HelloMrx, a user's own module, runs a scenario from an object and passes", async (t) => {
  const loaded = helloScenario();
  if (!loaded.ok) return t.fail(loaded.problems.map(formatProblem).join("\n"));
  const report = await runScenario(loaded.loaded);
  t.true(report.passed, formatReport(report));
  t.deepEqual(report.leaks, []);
  t.true(report.steps[0]?.mrx.includes("MRxCreateSrvCall"));
});

test("HelloMrx, the docs' section 11 sample, passes under the reactos profile too (it sets the IRP's Information only where the profile asks)", async (t) => {
  const loaded = helloScenario();
  if (!loaded.ok) return t.fail(loaded.problems.map(formatProblem).join("\n"));
  const report = await runScenario(loaded.loaded, { profile: "reactos" });
  t.true(report.passed, formatReport(report));
  t.is(report.profile, "reactos");
});

test("a variant calling the SRV_CALL callback twice is stopped by the mini-redirector contract check", async (t) => {
  const loaded = scenarioFromObject(
    { name: "twice", setup: { minirdr: "hello" }, steps: [...steps], expect: { stop: { check: "minirdrContract" } } },
    "twice-scenario",
    { modules: { hello: helloModule((rx) => new TwiceHello(rx)) } },
  );
  if (!loaded.ok) return t.fail(loaded.problems.map(formatProblem).join("\n"));
  const report = await runScenario(loaded.loaded);
  t.true(report.passed, formatReport(report));
  t.regex(report.stops[0]?.reason ?? "", /twice|more than once|callback/i, formatReport(report));
});

test("an unknown module name is a located error listing the modules given", (t) => {
  const loaded = scenarioFromObject({ name: "x", setup: { minirdr: "helo" }, steps: [{ op: "start" }] }, "typo", {
    modules: { hello: helloModule((rx) => new HelloMrx(rx)) },
  });
  t.false(loaded.ok);
  if (!loaded.ok)
    t.regex(
      loaded.problems[0]?.message ?? "",
      /unknown mini-redirector "helo" \(did you mean hello\?\): hello, memsmb, nulmrx/,
    );
});
