import { fc, testProp } from "@fast-check/ava";
import {
  DV,
  type ERESOURCE,
  EventType,
  type KEVENT,
  Kernel,
  type KThread,
  ReplayStrategy,
  type SchedulingStrategy,
} from "../../emulator/kernel/index.js";

/** A small driver-like program: lock blocks (acquire … release, properly paired), events, yields and delays. */
type Op =
  | {
      readonly kind: "lock";
      readonly res: number;
      readonly mode: "exclusive" | "shared" | "starve";
      readonly body: Op[];
    }
  | { readonly kind: "set"; readonly ev: number }
  | { readonly kind: "wait"; readonly ev: number; readonly timeout: number | undefined }
  | { readonly kind: "yield" }
  | { readonly kind: "point" }
  | { readonly kind: "delay"; readonly ticks: number };

const RESOURCES = 2;
const EVENTS = 2;

const { op } = fc.letrec<{ op: Op }>((tie) => ({
  op: fc.oneof(
    { depthSize: "small", withCrossShrink: true },
    fc.constant<Op>({ kind: "yield" }),
    fc.constant<Op>({ kind: "point" }),
    fc.record({ kind: fc.constant("set" as const), ev: fc.nat(EVENTS - 1) }),
    fc.record({
      kind: fc.constant("wait" as const),
      ev: fc.nat(EVENTS - 1),
      timeout: fc.option(fc.integer({ min: -50, max: 0 }), { nil: undefined }),
    }),
    fc.record({ kind: fc.constant("delay" as const), ticks: fc.integer({ min: 1, max: 30 }) }),
    fc.record({
      kind: fc.constant("lock" as const),
      res: fc.nat(RESOURCES - 1),
      mode: fc.constantFrom("exclusive" as const, "shared" as const, "starve" as const),
      body: fc.array(tie("op"), { maxLength: 3 }),
    }),
  ),
}));

const program = fc.array(op, { minLength: 1, maxLength: 6 });
const programs = fc.array(program, { minLength: 2, maxLength: 3 });

interface Outcome {
  readonly lines: string[];
  readonly choices: readonly number[];
  readonly summary: string;
  readonly exclusionViolations: string[];
  readonly threadErrors: number;
}

/** Run the programs; model resource ownership in JS to check the kernel's mutual exclusion as we go. */
async function execute(progs: readonly Op[][], seed: number, strategy?: SchedulingStrategy): Promise<Outcome> {
  // The lock-order graph would report most of the lock cycles these programs make before they deadlock; this
  // property is about exclusion, replay and the deadlock report (test/verifier/lockorder.test.ts has the graph's).
  const k = new Kernel({ seed, strategy: strategy ?? "random", trace: true, checks: { lockOrder: "off" } });
  const resources: ERESOURCE[] = [];
  for (let i = 0; i < RESOURCES; i++) resources.push(k.ExInitializeResourceLite(`R${i}`));
  const events: KEVENT[] = [];
  for (let i = 0; i < EVENTS; i++) {
    events.push(
      k.KeInitializeEvent(i === 0 ? EventType.SynchronizationEvent : EventType.NotificationEvent, false, `E${i}`),
    );
  }
  // holders[r]: thread → [exclusive count, shared count]
  const holders = resources.map(() => new Map<KThread, [number, number]>());
  const violations: string[] = [];

  const check = (r: number, self: KThread, exclusive: boolean): void => {
    for (const [other, [ex, sh]] of holders[r] as Map<KThread, [number, number]>) {
      if (other === self || ex + sh === 0) continue;
      if (exclusive || ex > 0)
        violations.push(`${self.name} got R${r} ${exclusive ? "exclusive" : "shared"} while ${other.name} holds it`);
    }
  };

  const interpret = async (ops: readonly Op[], self: KThread): Promise<void> => {
    for (const o of ops) {
      switch (o.kind) {
        case "yield":
          await k.KeYieldThread();
          break;
        case "point": {
          const p = k.schedulePoint("prop");
          if (p) await p;
          break;
        }
        case "set":
          k.KeSetEvent(events[o.ev] as KEVENT);
          break;
        case "wait":
          await k.KeWaitForSingleObject(events[o.ev] as KEVENT, o.timeout);
          break;
        case "delay":
          await k.KeDelayExecutionThread(-o.ticks);
          break;
        case "lock": {
          const res = resources[o.res] as ERESOURCE;
          const exclusive = o.mode === "exclusive";
          const got =
            o.mode === "exclusive"
              ? await k.ExAcquireResourceExclusiveLite(res, true)
              : o.mode === "shared"
                ? await k.ExAcquireResourceSharedLite(res, true)
                : await k.ExAcquireSharedStarveExclusive(res, true);
          if (got !== true) violations.push(`${self.name}: a waiting acquire returned ${String(got)}`);
          const h = holders[o.res] as Map<KThread, [number, number]>;
          const mine = h.get(self) ?? [0, 0];
          // An exclusive owner's shared acquisitions count as exclusive recursion.
          const asExclusive = exclusive || mine[0] > 0;
          check(o.res, self, asExclusive);
          h.set(self, asExclusive ? [mine[0] + 1, mine[1]] : [mine[0], mine[1] + 1]);
          await interpret(o.body, self);
          const now = h.get(self) as [number, number];
          h.set(self, asExclusive ? [now[0] - 1, now[1]] : [now[0], now[1] - 1]);
          k.ExReleaseResourceLite(res);
          break;
        }
      }
    }
  };

  const proc = k.createProcess("prop.exe");
  progs.forEach((ops, i) => {
    k.createThread(proc, `T${i}`, (self) => interpret(ops, self));
  });
  const r = await k.run();
  const s = r.stop;
  const summary = s === null ? `idle t=${r.time}` : `${s.kind} ${s.name} ${s.codeHex} ${s.params[0]} ${s.reason}`;
  if (s !== null && s.kind !== "deadlock") {
    // The only bug check these programs can provoke is a shared → exclusive upgrade (self-deadlock).
    if (!(s.kind === "bugcheck" && s.code === 0xc4 && s.params[0] === DV.SELF_DEADLOCK)) {
      violations.push(`unexpected stop: ${s.format()}`);
    }
  }
  return {
    lines: k.trace.lines(),
    choices: [...r.choices],
    summary,
    exclusionViolations: violations,
    threadErrors: r.threadErrors.length,
  };
}

testProp(
  "random programs on 2-3 threads are deterministic per seed, replayable, and keep ERESOURCE exclusion",
  [programs, fc.integer({ min: 1, max: 1_000_000 })],
  async (t, progs, seed) => {
    const a = await execute(progs, seed);
    const b = await execute(progs, seed);
    t.is(a.lines.join("\n"), b.lines.join("\n"));
    t.deepEqual(a.choices, b.choices);
    t.is(a.summary, b.summary);
    t.deepEqual(a.exclusionViolations, []);
    t.is(a.threadErrors, 0);

    const replay = new ReplayStrategy(a.choices, undefined, true);
    const c = await execute(progs, seed + 1, replay);
    t.is(replay.divergence, null);
    t.is(c.lines.join("\n"), a.lines.join("\n"));
    t.is(c.summary, a.summary);
  },
  { numRuns: 50 },
);
