/**
 * IRP basics: dispatch through a device stack, synchronous completion, completion routines (order, DeviceObject,
 * SL_INVOKE_ON_* flags), STATUS_MORE_PROCESSING_REQUIRED, and pending propagation.
 */
import test from "ava";
import {
  type DEVICE_OBJECT,
  type DriverDispatch,
  FILE_OPEN,
  FILE_READ_DATA,
  FILE_SHARE_READ,
  FILE_SYNCHRONOUS_IO_NONALERT,
  type IoSystem,
  IRP,
  IRP_MJ_CLEANUP,
  IRP_MJ_CLOSE,
  IRP_MJ_CREATE,
  IRP_MJ_READ,
  SYNCHRONIZE,
} from "../../emulator/io/index.js";
import {
  BUGCHECK,
  type CheckMode,
  KEVENT,
  type NTSTATUS,
  STATUS,
  statusName,
  VERIFIER_C9,
} from "../../emulator/kernel/index.js";
import {
  type Booted,
  bootSystem,
  clean,
  completeFromDpc,
  completeIrp,
  MS,
  makeDevice,
  runUser,
  sendIrp,
  stopOf,
  subCodes,
} from "./_helpers.js";

const { STATUS_SUCCESS, STATUS_PENDING, STATUS_MORE_PROCESSING_REQUIRED, STATUS_END_OF_FILE, STATUS_CANCELLED } =
  STATUS;

/** Boot a kernel without the pending driver and build devices on the boot thread. */
async function setup<T>(
  build: (sys: IoSystem) => Promise<T>,
  checks?: Readonly<Record<string, CheckMode>>,
): Promise<{ b: Booted; env: T }> {
  const holder: { env: T | null } = { env: null };
  const b = await bootSystem({
    driver: false,
    ...(checks ? { checks } : {}),
    more: async (sys) => {
      holder.env = await build(sys);
    },
  });
  return { b, env: holder.env as T };
}

/** A fresh IRP for `top` whose first stack location is `major`. */
function buildIrp(sys: IoSystem, top: DEVICE_OBJECT, major = IRP_MJ_READ): IRP {
  const irp = sys.io.IoAllocateIrp(top.StackSize);
  sys.io.IoGetNextIrpStackLocation(irp).MajorFunction = major;
  return irp;
}

/** A filter dispatch routine: copy the stack location down, set a logging completion routine, call `below`. */
function forwardWithRoutine(
  sys: IoSystem,
  label: string,
  order: string[],
  below: () => DEVICE_OBJECT,
  opts: { flags?: readonly [boolean, boolean, boolean]; propagate?: boolean } = {},
): DriverDispatch {
  const io = sys.io;
  const [s, e, c] = opts.flags ?? [true, true, true];
  return (_dev, irp) => {
    io.IoCopyCurrentIrpStackLocationToNext(irp);
    io.IoSetCompletionRoutine(
      irp,
      (dev, done, ctx) => {
        order.push(`${label}: dev=${dev?.label() ?? "null"} ctx=${String(ctx)} ${statusName(done.IoStatus.Status)}`);
        if (opts.propagate !== false && done.PendingReturned) io.IoMarkIrpPending(done);
        return STATUS_SUCCESS;
      },
      `${label}-ctx`,
      s,
      e,
      c,
    );
    return io.IoCallDriver(below(), irp);
  };
}

/** A lower driver that pends reads and completes them from a DPC after 1 ms with STATUS_SUCCESS, 5 bytes. */
function pendingLower(sys: IoSystem): DriverDispatch {
  return (_dev, irp) => {
    sys.io.IoMarkIrpPending(irp);
    completeFromDpc(sys, irp, STATUS_SUCCESS, 5, MS);
    return STATUS_PENDING;
  };
}

test("the I/O manager sends every IRP to the top of the stack; each layer sees its own DeviceObject and stack location", async (t) => {
  const seen: string[] = [];
  const ref: { lower: DEVICE_OBJECT | null } = { lower: null };
  const { b, env } = await setup(async (sys) => {
    const io = sys.io;
    const note =
      (who: string): ((dev: DEVICE_OBJECT, irp: IRP) => void) =>
      (dev, irp) => {
        const sp = io.IoGetCurrentIrpStackLocation(irp);
        seen.push(
          `${who} ${irp.label()} major=${sp.MajorFunction} dev=${dev.label()} sp.dev=${sp.DeviceObject?.label()} loc=${irp.CurrentLocation}/${irp.StackCount}`,
        );
      };
    const complete = (who: string): DriverDispatch => {
      return (dev, irp) => {
        note(who)(dev, irp);
        return completeIrp(sys, irp, STATUS_SUCCESS, 3);
      };
    };
    const lower = await makeDevice(sys, "\\Driver\\Lower", "\\Device\\Lower", {
      [IRP_MJ_CREATE]: complete("lower"),
      [IRP_MJ_READ]: complete("lower"),
      [IRP_MJ_CLEANUP]: complete("lower"),
      [IRP_MJ_CLOSE]: complete("lower"),
    });
    ref.lower = lower;
    const pass: DriverDispatch = (dev, irp) => {
      note("upper")(dev, irp);
      io.IoCopyCurrentIrpStackLocationToNext(irp);
      return io.IoCallDriver(ref.lower as DEVICE_OBJECT, irp);
    };
    const upper = await makeDevice(sys, "\\Driver\\Upper", null, {
      [IRP_MJ_CREATE]: pass,
      [IRP_MJ_READ]: pass,
      [IRP_MJ_CLEANUP]: pass,
      [IRP_MJ_CLOSE]: pass,
    });
    const attachedTo = io.IoAttachDeviceToDeviceStack(upper, lower);
    return { lower, upper, attachedTo };
  });
  const { lower, upper, attachedTo } = env;
  t.is(attachedTo, lower);
  t.is(lower.StackSize, 1);
  t.is(upper.StackSize, 2);
  t.is(b.sys.io.IoGetAttachedDevice(lower), upper);
  t.is(lower.AttachedDevice, upper);
  t.is(upper.LowerDevice, lower);
  const statuses: NTSTATUS[] = [];
  const r = await runUser(b, async () => {
    const nt = b.sys.nt;
    const f = await nt.NtCreateFile({
      ObjectName: "\\Device\\Lower\\a",
      DesiredAccess: FILE_READ_DATA | SYNCHRONIZE,
      ShareAccess: FILE_SHARE_READ,
      CreateDisposition: FILE_OPEN,
      CreateOptions: FILE_SYNCHRONOUS_IO_NONALERT,
    });
    statuses.push(f.Status);
    const rd = await nt.NtReadFile(f.FileHandle, { Length: 8 });
    statuses.push(rd.Status, rd.Information);
    statuses.push(await nt.NtClose(f.FileHandle));
    // IoCallDriver itself dispatches to the device it is given, even one with a filter on top.
    const irp = buildIrp(b.sys, lower);
    const s = await sendIrp(b.sys, lower, irp);
    statuses.push(s.returned);
  });
  clean(r);
  t.deepEqual(statuses, [STATUS_SUCCESS, STATUS_SUCCESS, 3, STATUS_SUCCESS, STATUS_SUCCESS]);
  const up = "unnamed device of \\Driver\\Upper";
  const low = "\\Device\\Lower";
  t.deepEqual(
    seen.map((l) => l.replace(/IRP#\d+ /, "")),
    [
      `upper major=${IRP_MJ_CREATE} dev=${up} sp.dev=${up} loc=2/2`,
      `lower major=${IRP_MJ_CREATE} dev=${low} sp.dev=${low} loc=1/2`,
      `upper major=${IRP_MJ_READ} dev=${up} sp.dev=${up} loc=2/2`,
      `lower major=${IRP_MJ_READ} dev=${low} sp.dev=${low} loc=1/2`,
      `upper major=${IRP_MJ_CLEANUP} dev=${up} sp.dev=${up} loc=2/2`,
      `lower major=${IRP_MJ_CLEANUP} dev=${low} sp.dev=${low} loc=1/2`,
      `upper major=${IRP_MJ_CLOSE} dev=${up} sp.dev=${up} loc=2/2`,
      `lower major=${IRP_MJ_CLOSE} dev=${low} sp.dev=${low} loc=1/2`,
      `lower major=${IRP_MJ_READ} dev=${low} sp.dev=${low} loc=1/1`,
    ],
  );
});

test("a driver that completes at once: IoCallDriver returns its status synchronously and the IRP is already complete", async (t) => {
  const { b, env } = await setup(async (sys) =>
    makeDevice(sys, "\\Driver\\Now", "\\Device\\Now", {
      [IRP_MJ_READ]: (_d, irp) => completeIrp(sys, irp, STATUS_END_OF_FILE),
    }),
  );
  const dev = env;
  const got: unknown[] = [];
  const r = await runUser(b, async () => {
    const io = b.sys.io;
    const irp = buildIrp(b.sys, dev);
    let finals = 0;
    irp.finalizer = () => {
      finals++;
    };
    const ret = io.IoCallDriver(dev, irp);
    // Nothing awaited yet: the dispatch routine ran and completed the IRP inside the call.
    got.push(typeof ret, ret, irp.completed, finals, irp.IoStatus.Status);
    io.topLevelReturned(irp, ret as NTSTATUS);
  });
  clean(r);
  t.deepEqual(got, ["number", STATUS_END_OF_FILE, true, 1, STATUS_END_OF_FILE]);
});

test("completion routines run bottom-up, each with the DeviceObject and Context of the layer that set it", async (t) => {
  const order: string[] = [];
  const ref: { lower: DEVICE_OBJECT | null; mid: DEVICE_OBJECT | null } = { lower: null, mid: null };
  const { b, env } = await setup(async (sys) => {
    const io = sys.io;
    const lower = await makeDevice(sys, "\\Driver\\Lower", "\\Device\\Lower", {
      [IRP_MJ_READ]: (_d, irp) => {
        order.push("lower completes");
        return completeIrp(sys, irp, STATUS_SUCCESS, 7);
      },
    });
    ref.lower = lower;
    const mid = await makeDevice(sys, "\\Driver\\Mid", null, {
      [IRP_MJ_READ]: forwardWithRoutine(sys, "mid", order, () => ref.lower as DEVICE_OBJECT),
    });
    ref.mid = mid;
    io.IoAttachDeviceToDeviceStack(mid, lower);
    const top = await makeDevice(sys, "\\Driver\\Top", null, {
      [IRP_MJ_READ]: forwardWithRoutine(sys, "top", order, () => ref.mid as DEVICE_OBJECT),
    });
    t.is(io.IoAttachDeviceToDeviceStack(top, lower), mid);
    return top;
  });
  const top = env;
  t.is(top.StackSize, 3);
  const r = await runUser(b, async () => {
    const io = b.sys.io;
    const irp = buildIrp(b.sys, top);
    io.IoSetCompletionRoutine(
      irp,
      (dev, done, ctx) => {
        order.push(`originator: dev=${dev?.label() ?? "null"} ctx=${String(ctx)} ${statusName(done.IoStatus.Status)}`);
        return STATUS_SUCCESS;
      },
      "orig-ctx",
      true,
      true,
      true,
    );
    const s = await sendIrp(b.sys, io.IoGetAttachedDevice(top), irp);
    order.push(`returned ${statusName(s.returned)} info=${irp.IoStatus.Information} finalized=${s.finalized()}`);
  });
  clean(r);
  t.deepEqual(order, [
    "lower completes",
    "mid: dev=unnamed device of \\Driver\\Mid ctx=mid-ctx STATUS_SUCCESS",
    "top: dev=unnamed device of \\Driver\\Top ctx=top-ctx STATUS_SUCCESS",
    "originator: dev=null ctx=orig-ctx STATUS_SUCCESS",
    "returned STATUS_SUCCESS info=7 finalized=1",
  ]);
});

test("SL_INVOKE_ON_SUCCESS / ERROR / CANCEL decide whether a completion routine runs", async (t) => {
  const { b, env } = await setup(async (sys) =>
    makeDevice(sys, "\\Driver\\Status", "\\Device\\Status", {
      // Completes with the status the test put in Parameters.Key.
      [IRP_MJ_READ]: (_d, irp) => completeIrp(sys, irp, sys.io.IoGetCurrentIrpStackLocation(irp).Parameters.Key),
    }),
  );
  const dev = env;
  type Case = readonly [label: string, flags: readonly [boolean, boolean, boolean], status: NTSTATUS, cancel: boolean];
  const cases: readonly Case[] = [
    ["S on success", [true, false, false], STATUS_SUCCESS, false],
    ["S on error", [true, false, false], STATUS_END_OF_FILE, false],
    ["E on success", [false, true, false], STATUS_SUCCESS, false],
    ["E on error", [false, true, false], STATUS_END_OF_FILE, false],
    ["C on error, not cancelled", [false, false, true], STATUS_CANCELLED, false],
    ["C on error, cancelled", [false, false, true], STATUS_CANCELLED, true],
    ["C on success, cancelled", [false, false, true], STATUS_SUCCESS, true],
    ["S+E on cancelled error", [true, true, false], STATUS_CANCELLED, true],
    ["none on success", [false, false, false], STATUS_SUCCESS, false],
  ];
  const invoked: Record<string, boolean> = {};
  const finals: Record<string, number> = {};
  const r = await runUser(b, async () => {
    const io = b.sys.io;
    for (const [label, [s, e, c], status, cancel] of cases) {
      const irp = buildIrp(b.sys, dev);
      io.IoGetNextIrpStackLocation(irp).Parameters.Key = status;
      invoked[label] = false;
      io.IoSetCompletionRoutine(
        irp,
        () => {
          invoked[label] = true;
          return STATUS_SUCCESS;
        },
        null,
        s,
        e,
        c,
      );
      if (cancel) irp.Cancel = true;
      const sent = await sendIrp(b.sys, dev, irp);
      finals[label] = sent.finalized();
    }
  });
  clean(r);
  t.deepEqual(invoked, {
    "S on success": true,
    "S on error": false,
    "E on success": false,
    "E on error": true,
    "C on error, not cancelled": false,
    "C on error, cancelled": true,
    "C on success, cancelled": true,
    "S+E on cancelled error": true,
    "none on success": false,
  });
  // Whether or not its routine ran, every IRP reached the I/O manager exactly once.
  t.true(Object.values(finals).every((n) => n === 1));
});

test("a routine whose flags do not match is skipped, the routines above it still run", async (t) => {
  const order: string[] = [];
  const ref: { lower: DEVICE_OBJECT | null } = { lower: null };
  const { b, env } = await setup(async (sys) => {
    const lower = await makeDevice(sys, "\\Driver\\Lower", "\\Device\\Lower", {
      [IRP_MJ_READ]: (_d, irp) => completeIrp(sys, irp, STATUS_END_OF_FILE),
    });
    ref.lower = lower;
    const mid = await makeDevice(sys, "\\Driver\\Mid", null, {
      [IRP_MJ_READ]: forwardWithRoutine(sys, "mid (success only)", order, () => ref.lower as DEVICE_OBJECT, {
        flags: [true, false, false],
      }),
    });
    sys.io.IoAttachDeviceToDeviceStack(mid, lower);
    return mid;
  });
  const r = await runUser(b, async () => {
    const irp = buildIrp(b.sys, env);
    b.sys.io.IoSetCompletionRoutine(
      irp,
      (dev) => {
        order.push(`originator dev=${dev?.label() ?? "null"}`);
        return STATUS_SUCCESS;
      },
      null,
      false,
      true,
      false,
    );
    const s = await sendIrp(b.sys, env, irp);
    order.push(`returned ${statusName(s.returned)}`);
  });
  clean(r);
  t.deepEqual(order, ["originator dev=null", "returned STATUS_END_OF_FILE"]);
});

test("STATUS_MORE_PROCESSING_REQUIRED stops completion; the filter that owns the IRP then completes it again (no 0x44)", async (t) => {
  const log: string[] = [];
  const ref: { lower: DEVICE_OBJECT | null } = { lower: null };
  const { b, env } = await setup(async (sys) => {
    const io = sys.io;
    const k = io.k;
    const lower = await makeDevice(sys, "\\Driver\\Lower", "\\Device\\Lower", {
      [IRP_MJ_READ]: (_d, irp) => {
        io.IoMarkIrpPending(irp);
        const timer = k.KeInitializeTimer(undefined, "lower");
        const dpc = k.KeInitializeDpc(
          () => {
            log.push(`lower completes from DPC at IRQL ${k.KeGetCurrentIrql()}`);
            completeIrp(sys, irp, STATUS_SUCCESS, 5);
            log.push(`first IoCompleteRequest returned: completed=${irp.completed}`);
          },
          null,
          "lower dpc",
        );
        k.KeSetTimer(timer, -MS, dpc);
        return STATUS_PENDING;
      },
    });
    ref.lower = lower;
    // The classic "forward and wait" filter (IoForwardIrpSynchronously).
    const filter = await makeDevice(sys, "\\Driver\\SyncFilter", null, {
      [IRP_MJ_READ]: async (_d, irp) => {
        const ev = new KEVENT(0, false, "forward");
        io.IoCopyCurrentIrpStackLocationToNext(irp);
        io.IoSetCompletionRoutine(
          irp,
          (dev) => {
            log.push(`filter routine dev=${dev?.label()} → MORE_PROCESSING_REQUIRED`);
            k.KeSetEvent(ev);
            return STATUS_MORE_PROCESSING_REQUIRED;
          },
          null,
          true,
          true,
          true,
        );
        const s = await io.IoCallDriver(ref.lower as DEVICE_OBJECT, irp);
        log.push(`lower returned ${statusName(s)}`);
        if (s === STATUS_PENDING) await k.KeWaitForSingleObject(ev);
        log.push(`filter resumes: completed=${irp.completed} loc=${irp.CurrentLocation}`);
        irp.IoStatus.Information += 100;
        const status = irp.IoStatus.Status;
        io.IoCompleteRequest(irp);
        log.push("filter completed the IRP again");
        return status;
      },
    });
    io.IoAttachDeviceToDeviceStack(filter, lower);
    return filter;
  });
  const r = await runUser(b, async () => {
    const irp = buildIrp(b.sys, env);
    const s = await sendIrp(b.sys, env, irp);
    log.push(
      `returned ${statusName(s.returned)} info=${irp.IoStatus.Information} finalized=${s.finalized()} completed=${irp.completed}`,
    );
  });
  clean(r);
  t.deepEqual(log, [
    "lower returned STATUS_PENDING",
    "lower completes from DPC at IRQL 2",
    "filter routine dev=unnamed device of \\Driver\\SyncFilter → MORE_PROCESSING_REQUIRED",
    "first IoCompleteRequest returned: completed=false",
    "filter resumes: completed=false loc=2",
    "filter completed the IRP again",
    "returned STATUS_SUCCESS info=105 finalized=1 completed=true",
  ]);
});

test("a driver-allocated IRP: the owner's routine frees it and returns MORE_PROCESSING_REQUIRED; freeing it twice is 0xC9/0x01", async (t) => {
  const { b, env } = await setup(
    async (sys) =>
      makeDevice(sys, "\\Driver\\Now", "\\Device\\Now", {
        [IRP_MJ_READ]: (_d, irp) => completeIrp(sys, irp, STATUS_SUCCESS, 9),
      }),
    { irp: "record" },
  );
  const got: unknown[] = [];
  const r = await runUser(b, async () => {
    const io = b.sys.io;
    const irp = io.IoAllocateIrp(env.StackSize);
    io.IoGetNextIrpStackLocation(irp).MajorFunction = IRP_MJ_READ;
    io.IoSetCompletionRoutine(
      irp,
      (dev, done) => {
        got.push(`routine dev=${String(dev)} info=${done.IoStatus.Information}`);
        io.IoFreeIrp(done);
        return STATUS_MORE_PROCESSING_REQUIRED;
      },
      null,
      true,
      true,
      true,
    );
    got.push(io.IoCallDriver(env, irp));
    got.push(irp.completed, irp.freed, io.liveIrps.has(irp), b.k.violations.length);
    io.IoFreeIrp(irp);
  });
  t.is(r.stop, null);
  t.deepEqual(got, ["routine dev=null info=9", STATUS_SUCCESS, false, true, false, 0]);
  t.deepEqual(subCodes(r.violations), [VERIFIER_C9.FREE_NON_IRP.code]);
  t.is(r.violations[0]?.code, BUGCHECK.DRIVER_VERIFIER_IOMANAGER_VIOLATION);
});

test("pending propagation: a filter routine that does `if (Irp->PendingReturned) IoMarkIrpPending(Irp)` passes", async (t) => {
  const order: string[] = [];
  const ref: { lower: DEVICE_OBJECT | null } = { lower: null };
  const { b, env } = await setup(
    async (sys) => {
      const lower = await makeDevice(sys, "\\Driver\\Lower", "\\Device\\Lower", { [IRP_MJ_READ]: pendingLower(sys) });
      ref.lower = lower;
      const filter = await makeDevice(sys, "\\Driver\\Filter", null, {
        [IRP_MJ_READ]: forwardWithRoutine(sys, "filter", order, () => ref.lower as DEVICE_OBJECT),
      });
      sys.io.IoAttachDeviceToDeviceStack(filter, lower);
      return filter;
    },
    { irp: "record" },
  );
  const got: unknown[] = [];
  const r = await runUser(b, async () => {
    const irp = buildIrp(b.sys, env);
    const s = await sendIrp(b.sys, env, irp);
    got.push(s.returned, irp.PendingReturned, irp.IoStatus.Information, s.finalized());
  });
  clean(r);
  t.deepEqual(got, [STATUS_PENDING, true, 5, 1]);
  t.deepEqual(order, ["filter: dev=unnamed device of \\Driver\\Filter ctx=filter-ctx STATUS_SUCCESS"]);
});

test("pending propagation: a filter routine that ignores PendingReturned is 0xC9 COMPLETION_DID_NOT_PROPAGATE_PENDING", async (t) => {
  const build =
    (order: string[]) =>
    async (sys: IoSystem): Promise<DEVICE_OBJECT> => {
      const ref: { lower: DEVICE_OBJECT | null } = { lower: null };
      const lower = await makeDevice(sys, "\\Driver\\Lower", "\\Device\\Lower", { [IRP_MJ_READ]: pendingLower(sys) });
      ref.lower = lower;
      const filter = await makeDevice(sys, "\\Driver\\Filter", null, {
        [IRP_MJ_READ]: forwardWithRoutine(sys, "filter", order, () => ref.lower as DEVICE_OBJECT, { propagate: false }),
      });
      sys.io.IoAttachDeviceToDeviceStack(filter, lower);
      return filter;
    };
  // Recorded: the routine's omission, then (consequently) the top of the stack returned STATUS_PENDING unmarked.
  {
    const { b, env } = await setup(build([]), { irp: "record" });
    const r = await runUser(b, async () => {
      await sendIrp(b.sys, env, buildIrp(b.sys, env));
    });
    t.is(r.stop, null);
    t.deepEqual(subCodes(r.violations), [
      VERIFIER_C9.COMPLETION_DID_NOT_PROPAGATE_PENDING.code,
      VERIFIER_C9.PENDING_RETURNED_WITHOUT_MARK.code,
    ]);
    t.true(r.violations.every((v) => v.code === BUGCHECK.DRIVER_VERIFIER_IOMANAGER_VIOLATION && v.check === "irp"));
  }
  // Default mode: the first one stops the run, in the DPC that completed the IRP.
  {
    const { b, env } = await setup(build([]));
    const r = await runUser(b, async () => {
      await sendIrp(b.sys, env, buildIrp(b.sys, env));
    });
    const stop = stopOf(r);
    t.is(stop.kind, "bugcheck");
    t.is(stop.code, 0xc9);
    t.is(stop.name, "DRIVER_VERIFIER_IOMANAGER_VIOLATION");
    t.is(stop.params[0], 0x228n);
    t.is(stop.check, "irp");
    t.is(stop.thread?.name, "DPC");
    t.true(stop.callChain.includes("IoCompleteRequest"));
    t.regex(stop.reason, /unnamed device of \\Driver\\Filter.*PendingReturned/);
  }
});

test("IoMarkIrpPending marks are kept per stack location, below and above 31 locations", (t) => {
  for (const stackSize of [1, 3, 40]) {
    const irp = new IRP(stackSize);
    const marked = [1, stackSize, Math.min(stackSize, 35)].filter((l) => l <= stackSize);
    for (const loc of marked) irp.markPending(loc);
    for (let loc = 1; loc <= stackSize + 1; loc++) {
      t.is(irp.markedPending(loc), marked.includes(loc), `StackCount ${stackSize}, location ${loc}`);
    }
  }
});
