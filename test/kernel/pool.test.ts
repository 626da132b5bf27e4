/**
 * Pool (emulator/kernel/pool.ts): ExAllocatePoolWithTag / ExFreePoolWithTag / ExFreePool with Driver Verifier's
 * pool tracking and special pool. The scenario-level cases (each check's fixture, pattern 6 with pool, a leak in the
 * teardown report) are in test/verifier.
 */
import test from "ava";
import { FaultInjector } from "../../emulator/faults/index.js";
import {
  APC_LEVEL,
  BAD_POOL_CALLER_CODES,
  BUGCHECK,
  DISPATCH_LEVEL,
  HIGH_LEVEL,
  Kernel,
  PASSIVE_LEVEL,
  POOL_TYPE,
  tagText,
  VERIFIER_C4,
} from "../../emulator/kernel/index.js";
import { runThread, stopOf } from "./_helpers.js";

test("a block is the driver's object: fields read and written, its tag and size known, outstanding until freed", async (t) => {
  const { k, r } = await runThread((k) => {
    const b = k.ExAllocatePoolWithTag(POOL_TYPE.NonPagedPool, 64, "NulC", { server: "\\srv", opens: 0 });
    if (b === null) throw new Error("no block");
    b.opens += 2;
    t.is(b.opens, 2);
    t.is(b.server, "\\srv");
    t.like(k.pool.infoOf(b), { tag: "NulC", poolType: POOL_TYPE.NonPagedPool, bytes: 64, freed: null });
    t.is(k.pool.outstanding().length, 1);
    t.regex(
      k.pool.outstanding()[0] ?? "",
      /^pool block 'NulC' \(NonPagedPool, 64 bytes\) never freed: allocated on thread "main"/,
    );
    k.ExFreePoolWithTag(b, "NulC");
    t.deepEqual(k.pool.outstanding(), []);
    // An empty block when no initial state is given; ExFreePool checks no tag.
    const e = k.ExAllocatePoolWithTag(POOL_TYPE.PagedPool, 8, 0x6c754e42);
    if (e === null) throw new Error("no block");
    e.x = 1;
    k.ExFreePool(e);
  });
  t.is(r.stop, null);
  t.deepEqual(k.pool.outstanding(), []);
});

test("a ULONG tag reads as !pool shows it (low byte first); unprintable bytes as dots", (t) => {
  t.is(tagText(0x6c754e42), "BNul");
  t.is(tagText(0x00000041), "A...");
  t.is(tagText("NulC"), "NulC");
});

test("a read after the free: 0xD5 naming the field, the tag, the allocation and the free", async (t) => {
  const { r } = await runThread((k) => {
    const b = k.ExAllocatePoolWithTag(POOL_TYPE.NonPagedPool, 16, "BugR", { n: 1 });
    if (b === null) throw new Error("no block");
    k.ExFreePoolWithTag(b, "BugR");
    void b.n;
  });
  const s = stopOf(r);
  t.is(s.code, BUGCHECK.DRIVER_PAGE_FAULT_IN_FREED_SPECIAL_POOL);
  t.is(s.params[1], 0n, "a read");
  t.is(s.check, "pool");
  t.regex(s.reason, /^A read of n of pool block 'BugR' \(NonPagedPool, 16 bytes\) after it was freed/);
  t.regex(
    s.reason,
    /Allocated on thread "main" at 0\.000000 s, call chain —; freed by ExFreePoolWithTag on thread "main"/,
  );
});

test("a write after the free, in record mode: recorded, and the run goes on", async (t) => {
  const { r } = await runThread(
    (k) => {
      const b = k.ExAllocatePoolWithTag(POOL_TYPE.NonPagedPool, 16, "BugW", { n: 1 });
      if (b === null) throw new Error("no block");
      k.ExFreePoolWithTag(b, "BugW");
      b.n = 2;
      delete (b as { n?: number }).n;
    },
    { checks: { pool: "record" } },
  );
  t.is(r.stop, null);
  t.is(r.violations.length, 2);
  t.is(r.violations[0]?.params[1], 1n, "a write");
  t.regex(r.violations[1]?.reason ?? "", /^A write of n /);
});

test("awaiting or returning a freed block is not a use (only its fields are)", async (t) => {
  const { r } = await runThread(async (k) => {
    const b = k.ExAllocatePoolWithTag(POOL_TYPE.NonPagedPool, 16, "BugT");
    if (b === null) throw new Error("no block");
    k.ExFreePool(b);
    const same = await Promise.resolve(b);
    t.is(same, b);
  });
  t.is(r.stop, null);
});

test("a double free: 0xC4 / 0x13 naming both the allocation and the first free", async (t) => {
  const { r } = await runThread((k) => {
    const b = k.ExAllocatePoolWithTag(POOL_TYPE.NonPagedPool, 16, "BugD");
    if (b === null) throw new Error("no block");
    k.ExFreePoolWithTag(b, "BugD");
    k.ExFreePool(b);
  });
  const s = stopOf(r);
  t.is(s.code, BUGCHECK.DRIVER_VERIFIER_DETECTED_VIOLATION);
  t.is(s.params[0], BigInt(VERIFIER_C4.POOL_DOUBLE_FREE.code));
  t.regex(s.reason, /^ExFreePool freed pool block 'BugD' .* a second time\. It was allocated on thread "main"/);
  t.deepEqual(s.callChain, ["ExFreePool"]);
});

test("a free with another tag: 0xC2 / 0x0A, and the block stays allocated", async (t) => {
  const { k, r } = await runThread(
    (k) => {
      const b = k.ExAllocatePoolWithTag(POOL_TYPE.NonPagedPool, 16, "BugA");
      if (b === null) throw new Error("no block");
      k.ExFreePoolWithTag(b, "BugB");
    },
    { checks: { pool: "record" } },
  );
  t.is(r.violations[0]?.code, BUGCHECK.BAD_POOL_CALLER);
  t.is(r.violations[0]?.params[0], BigInt(BAD_POOL_CALLER_CODES.FREE_WITH_WRONG_TAG.code));
  t.is(k.pool.outstanding().length, 1);
});

test("freeing NULL or an object no allocation returned: 0xC4 / 0x10", async (t) => {
  const { r } = await runThread(
    (k) => {
      k.ExFreePool({});
      k.ExFreePool(null as unknown as object);
    },
    { checks: { pool: "record" } },
  );
  t.deepEqual(
    r.violations.map((v) => v.params[0]),
    [BigInt(VERIFIER_C4.FREE_OF_UNALLOCATED_ADDRESS.code), BigInt(VERIFIER_C4.FREE_OF_UNALLOCATED_ADDRESS.code)],
  );
  t.regex(r.violations[1]?.reason ?? "", /was given NULL/);
});

test("a zero-byte allocation: 0xC4 / 0x00", async (t) => {
  const { r } = await runThread((k) => void k.ExAllocatePoolWithTag(POOL_TYPE.NonPagedPool, 0, "Zero"));
  t.is(stopOf(r).params[0], BigInt(VERIFIER_C4.ZERO_BYTE_ALLOCATION.code));
});

for (const [what, poolType, irql, sub] of [
  [
    "PagedPool allocated at DISPATCH_LEVEL",
    POOL_TYPE.PagedPool,
    DISPATCH_LEVEL,
    VERIFIER_C4.PAGED_POOL_ALLOC_ABOVE_APC,
  ],
  [
    "NonPagedPool allocated above DISPATCH_LEVEL",
    POOL_TYPE.NonPagedPool,
    HIGH_LEVEL,
    VERIFIER_C4.NONPAGED_POOL_ALLOC_ABOVE_DISPATCH,
  ],
] as const) {
  test(`${what}: 0xC4 / 0x${sub.code.toString(16).padStart(2, "0")} (irql)`, async (t) => {
    const { r } = await runThread((k) => {
      k.KeRaiseIrql(irql);
      k.ExAllocatePoolWithTag(poolType, 8, "Irql");
    });
    const s = stopOf(r);
    t.is(s.check, "irql");
    t.deepEqual(s.params.slice(0, 3), [BigInt(sub.code), BigInt(irql), BigInt(poolType)]);
  });
}

test("a paged block freed at DISPATCH_LEVEL: 0xC4 / 0x11; nonpaged pool at DISPATCH_LEVEL is fine", async (t) => {
  const { r } = await runThread((k) => {
    const np = k.ExAllocatePoolWithTag(POOL_TYPE.NonPagedPool, 8, "NonP");
    const p = k.ExAllocatePoolWithTag(POOL_TYPE.PagedPool, 8, "Page");
    if (np === null || p === null) throw new Error("no block");
    k.KeRaiseIrql(DISPATCH_LEVEL);
    k.ExFreePoolWithTag(np, "NonP");
    k.ExFreePoolWithTag(p, "Page");
  });
  t.is(stopOf(r).params[0], BigInt(VERIFIER_C4.PAGED_POOL_FREE_ABOVE_APC.code));
});

test("the fault site ExAllocatePoolWithTag: that allocation returns NULL, the next succeeds", async (t) => {
  const k = new Kernel({});
  const faults = new FaultInjector([{ site: "ExAllocatePoolWithTag", nth: 1 }], 1).attach(k);
  const got: (object | null)[] = [];
  k.createThread(k.createProcess("test.exe"), "main", () => {
    got.push(k.ExAllocatePoolWithTag(POOL_TYPE.NonPagedPool, 8, "Flt1"));
    got.push(k.ExAllocatePoolWithTag(POOL_TYPE.NonPagedPool, 8, "Flt2"));
  });
  const r = await k.run();
  t.is(r.stop, null);
  t.is(got[0], null);
  t.not(got[1], null);
  t.deepEqual(
    faults.records.map((f) => [f.site, f.detail]),
    [["ExAllocatePoolWithTag", "Flt1"]],
  );
  t.is(k.pool.outstanding().length, 1, "only the allocation that succeeded is outstanding");
});

// ------------------------------------------------------------------ paged memory at DISPATCH_LEVEL (0xD1)

test("a paged block read at DISPATCH_LEVEL: 0xD1 naming the field and the allocation; at APC_LEVEL it is fine", async (t) => {
  let block: object | null = null;
  const { k, r } = await runThread((k) => {
    const b = k.ExAllocatePoolWithTag(POOL_TYPE.PagedPool, 16, "Page", { n: 1 });
    if (b === null) throw new Error("no block");
    block = b;
    k.KeRaiseIrql(APC_LEVEL);
    b.n += 1;
    k.KeRaiseIrql(DISPATCH_LEVEL);
    void b.n;
  });
  const s = stopOf(r);
  t.is(s.code, BUGCHECK.DRIVER_IRQL_NOT_LESS_OR_EQUAL);
  t.is(s.check, "irql");
  t.deepEqual(s.params, [k.addressOf(block as unknown as object), BigInt(DISPATCH_LEVEL), 0n, 0n]);
  t.regex(
    s.reason,
    /^A read of n of pool block 'Page' \(PagedPool, 16 bytes\) at DISPATCH_LEVEL: .*allocated on thread "main"/,
  );
});

test("a paged block written, or asked `in`, at DISPATCH_LEVEL: 0xD1 with 1 (write) or 0 (read) in parameter 3", async (t) => {
  for (const [what, touch, p3] of [
    [
      "write",
      (b: Record<string, unknown>) => {
        b.n = 2;
      },
      1n,
    ],
    ["delete", (b: Record<string, unknown>) => void delete b.n, 1n],
    ["in", (b: Record<string, unknown>) => void ("n" in b), 0n],
  ] as const) {
    const { r } = await runThread((k) => {
      const b = k.ExAllocatePoolWithTag(POOL_TYPE.PagedPool, 16, "Page", { n: 1 });
      if (b === null) throw new Error("no block");
      k.KeRaiseIrql(DISPATCH_LEVEL);
      touch(b);
      k.KeLowerIrql(PASSIVE_LEVEL);
    });
    const s = stopOf(r);
    t.is(s.code, BUGCHECK.DRIVER_IRQL_NOT_LESS_OR_EQUAL, what);
    t.is(s.check, "irql", what);
    t.is(s.params[2], p3, what);
  }
});

test("a freed paged block touched at DISPATCH_LEVEL is a use after free (0xD5), not 0xD1; after the stop, reading it is the test's business", async (t) => {
  let block: { n: number } | null = null;
  const { r } = await runThread((k) => {
    const b = k.ExAllocatePoolWithTag(POOL_TYPE.PagedPool, 16, "Page", { n: 1 });
    if (b === null) throw new Error("no block");
    block = b;
    k.ExFreePool(b);
    k.KeRaiseIrql(DISPATCH_LEVEL);
    void b.n;
  });
  t.is(stopOf(r).code, BUGCHECK.DRIVER_PAGE_FAULT_IN_FREED_SPECIAL_POOL);
  t.is(
    (block as { n: number } | null)?.n,
    1,
    "the stopped run's thread is still current at DISPATCH_LEVEL; no new stop",
  );
});

test("nonpaged pool at DISPATCH_LEVEL, and paged pool touched from a DPC when the irql check is off, run on", async (t) => {
  const { r } = await runThread((k) => {
    const b = k.ExAllocatePoolWithTag(POOL_TYPE.NonPagedPool, 16, "NonP", { n: 1 });
    if (b === null) throw new Error("no block");
    k.KeRaiseIrql(DISPATCH_LEVEL);
    b.n += 1;
    k.KeLowerIrql(PASSIVE_LEVEL);
    k.ExFreePoolWithTag(b, "NonP");
  });
  t.is(r.stop, null);
  const off = await runThread(
    async (k) => {
      const b = k.ExAllocatePoolWithTag(POOL_TYPE.PagedPool, 16, "Page", { n: 1 });
      if (b === null) throw new Error("no block");
      k.KeSetTimer(
        k.KeInitializeTimer(),
        -10,
        k.KeInitializeDpc(
          () => {
            b.n += 1;
          },
          null,
          "touch",
        ),
      );
      await k.KeDelayExecutionThread(-100);
      t.is(b.n, 2, "the DPC ran");
      k.ExFreePool(b);
    },
    { checks: { irql: "off" } },
  );
  t.is(off.r.stop, null);
});

test("in record mode a paged block touched at DISPATCH_LEVEL is listed once, however often it is touched", async (t) => {
  const { k, r } = await runThread(
    (k) => {
      const b = k.ExAllocatePoolWithTag(POOL_TYPE.PagedPool, 16, "Page", { n: 1 });
      const c = k.ExAllocatePoolWithTag(POOL_TYPE.PagedPool, 16, "Pag2", { n: 1 });
      if (b === null || c === null) throw new Error("no block");
      k.KeRaiseIrql(DISPATCH_LEVEL);
      for (let i = 0; i < 5; i++) b.n += 1;
      void c.n;
      k.KeLowerIrql(PASSIVE_LEVEL);
      k.ExFreePool(b);
      k.ExFreePool(c);
    },
    { checks: { irql: "record" } },
  );
  t.is(r.stop, null);
  const d1 = k.violations.filter((v) => v.code === BUGCHECK.DRIVER_IRQL_NOT_LESS_OR_EQUAL);
  t.deepEqual(
    d1.map((v) => /pool block '(\w+)'/.exec(v.reason)?.[1]),
    ["Page", "Pag2"],
  );
});

test("PAGED_CODE(): nothing at PASSIVE_LEVEL or APC_LEVEL; above, 0xD1 with 8 (execute) naming the routine from the call chain", async (t) => {
  const { k, r } = await runThread(async (k) => {
    k.PAGED_CODE();
    k.KeRaiseIrql(APC_LEVEL);
    k.PAGED_CODE("MyPageableRoutine");
    k.KeLowerIrql(PASSIVE_LEVEL);
    // A DPC whose routine calls pageable code.
    k.KeSetTimer(
      k.KeInitializeTimer(),
      -10,
      k.KeInitializeDpc(() => k.PAGED_CODE(), null, "completion"),
    );
    await k.KeDelayExecutionThread(-100);
  });
  const s = stopOf(r);
  t.is(s.code, BUGCHECK.DRIVER_IRQL_NOT_LESS_OR_EQUAL);
  t.is(s.check, "irql");
  t.deepEqual(s.params.slice(1, 3), [BigInt(DISPATCH_LEVEL), 8n]);
  t.true(s.params[0] > 0n, "a fake code address");
  t.is(s.params[3], s.params[0], "an execute fault: the faulting instruction is the address referenced");
  t.regex(
    s.reason,
    /^The pageable routine DPC completion \(it begins with PAGED_CODE\(\)\) ran at DISPATCH_LEVEL \(in a DPC\)/,
  );
  t.is(k.violations.length, 0);
});

test("PAGED_CODE() in record mode: one violation per routine, each with its own code address", async (t) => {
  const { k, r } = await runThread(
    (k) => {
      k.KeRaiseIrql(DISPATCH_LEVEL);
      for (let i = 0; i < 3; i++) k.PAGED_CODE("A");
      k.PAGED_CODE("B");
      k.KeLowerIrql(PASSIVE_LEVEL);
    },
    { checks: { irql: "record" } },
  );
  t.is(r.stop, null);
  t.deepEqual(
    k.violations.map((v) => /routine (\w+)/.exec(v.reason)?.[1]),
    ["A", "B"],
  );
  t.not(k.violations[0]?.params[0], k.violations[1]?.params[0]);
});
