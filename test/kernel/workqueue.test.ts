import test from "ava";
import { WORKER_INVALID_CODES } from "../../emulator/kernel/bugcodes.js";
import {
  BUGCHECK,
  DISPATCH_LEVEL,
  EventType,
  Kernel,
  PASSIVE_LEVEL,
  type WORK_QUEUE_TYPE,
  WorkQueueType,
} from "../../emulator/kernel/index.js";
import { runThread, stopOf } from "./_helpers.js";

test("a work item runs on a system-process worker thread at PASSIVE_LEVEL with its parameter", async (t) => {
  const k = new Kernel({ trace: true });
  const done = k.KeInitializeEvent(EventType.NotificationEvent, false, "done");
  const seen: string[] = [];
  k.createThread(k.createProcess("app"), "main", async () => {
    const item = k.ExInitializeWorkItem(
      (param) => {
        const self = k.PsGetCurrentThread();
        seen.push(
          `${String(param)} on "${self.name}" in ${k.PsGetCurrentProcess().name} at ${k.KeGetCurrentIrql()} frames=${self.frames.join("/")}`,
        );
        k.KeSetEvent(done);
      },
      "param-1",
      "item",
    );
    t.deepEqual(k.workerCounts(), { critical: 0, delayed: 0, hyperCritical: 0 });
    k.ExQueueWorkItem(item, WorkQueueType.CriticalWorkQueue);
    await k.KeWaitForSingleObject(done);
  });
  const r = await k.run();
  t.is(r.outcome, "idle", "an idle worker does not keep the run alive");
  t.deepEqual(seen, ['param-1 on "Critical worker 1" in System at 0 frames=worker: item']);
  t.deepEqual(k.workerCounts(), { critical: 1, delayed: 0, hyperCritical: 0 });
  const kinds = k.trace.events.map((e) => `${e.kind} ${e.what}`);
  t.true(kinds.indexOf("work.queue item") < kinds.indexOf("work.run item"));
});

test("each queue type has its own workers", async (t) => {
  const k = new Kernel();
  const ran: string[] = [];
  k.createThread(k.createProcess("app"), "main", async () => {
    for (const [name, type] of [
      ["crit", WorkQueueType.CriticalWorkQueue],
      ["delayed", WorkQueueType.DelayedWorkQueue],
      ["hyper", WorkQueueType.HyperCriticalWorkQueue],
    ] as const) {
      k.ExQueueWorkItem(
        k.ExInitializeWorkItem(() => void ran.push(`${name}: ${k.PsGetCurrentThread().name}`), null, name),
        type,
      );
    }
    await k.KeDelayExecutionThread(-1);
  });
  const r = await k.run();
  t.is(r.outcome, "idle");
  t.deepEqual(ran, ["crit: Critical worker 1", "delayed: Delayed worker 1", "hyper: HyperCritical worker 1"]);
  t.deepEqual(k.workerCounts(), { critical: 1, delayed: 1, hyperCritical: 1 });
});

test("an idle worker is reused rather than a new one created", async (t) => {
  const k = new Kernel();
  const ran: string[] = [];
  k.createThread(k.createProcess("app"), "main", async () => {
    for (let i = 0; i < 4; i++) {
      k.ExQueueWorkItem(
        k.ExInitializeWorkItem(() => void ran.push(`${i} ${k.PsGetCurrentThread().name}`), null, `w${i}`),
        WorkQueueType.DelayedWorkQueue,
      );
      await k.KeDelayExecutionThread(-1);
    }
  });
  const r = await k.run();
  t.is(r.outcome, "idle");
  t.deepEqual(ran, ["0 Delayed worker 1", "1 Delayed worker 1", "2 Delayed worker 1", "3 Delayed worker 1"]);
  t.is(k.workerCounts().delayed, 1);
});

test("workers are created on demand up to the queue's limit; later items wait for a free worker", async (t) => {
  const k = new Kernel({ workers: { delayed: 2 } });
  const gate = k.KeInitializeEvent(EventType.NotificationEvent, false, "gate");
  const allDone = k.KeInitializeEvent(EventType.NotificationEvent, false, "all done");
  const started: string[] = [];
  let finished = 0;
  const observed: string[] = [];
  k.createThread(k.createProcess("app"), "main", async () => {
    for (let i = 0; i < 5; i++) {
      k.ExQueueWorkItem(
        k.ExInitializeWorkItem(
          async () => {
            started.push(`item${i}@${k.PsGetCurrentThread().name}`);
            await k.KeWaitForSingleObject(gate);
            if (++finished === 5) k.KeSetEvent(allDone);
          },
          null,
          `item${i}`,
        ),
        WorkQueueType.DelayedWorkQueue,
      );
    }
    await k.KeDelayExecutionThread(-10);
    observed.push(`started ${started.length}, workers ${k.workerCounts().delayed}`);
    k.KeSetEvent(gate);
    await k.KeWaitForSingleObject(allDone);
  });
  const r = await k.run();
  t.is(r.outcome, "idle");
  t.deepEqual(observed, ["started 2, workers 2"]);
  t.is(finished, 5);
  t.is(k.workerCounts().delayed, 2);
  t.deepEqual(started.slice(0, 2), ["item0@Delayed worker 1", "item1@Delayed worker 2"]);
  t.deepEqual(
    started.map((s) => s.split("@")[0]),
    ["item0", "item1", "item2", "item3", "item4"],
    "items run in queue order",
  );
  t.true(started.every((s) => /@Delayed worker [12]$/.test(s)));
});

test("re-queuing a work item that is still queued is bug check 0xE4 WORKER_INVALID", async (t) => {
  const { r } = await runThread(
    (k) => {
      const item = k.ExInitializeWorkItem(() => undefined, null, "twice");
      k.ExQueueWorkItem(item, WorkQueueType.DelayedWorkQueue);
      k.ExQueueWorkItem(item, WorkQueueType.CriticalWorkQueue);
    },
    {},
    "queuer",
  );
  const stop = stopOf(r);
  t.is(stop.code, BUGCHECK.WORKER_INVALID);
  t.is(stop.code, 0xe4);
  t.is(stop.name, "WORKER_INVALID");
  t.is(stop.params[0], BigInt(WORKER_INVALID_CODES.ACTIVE_ITEM_QUEUED.code));
  t.is(stop.params[2], BigInt(WorkQueueType.DelayedWorkQueue), "parameter 3: the queue it is already on");
  t.is(stop.thread?.name, "queuer");
  t.deepEqual(stop.callChain, ["ExQueueWorkItem"]);
  t.regex(stop.reason, /"twice" is already queued on DelayedWorkQueue/);
});

test("a work item may re-queue itself from its own routine", async (t) => {
  const k = new Kernel();
  const done = k.KeInitializeEvent(EventType.NotificationEvent, false, "done");
  let runs = 0;
  k.createThread(k.createProcess("app"), "main", async () => {
    const item = k.ExInitializeWorkItem(
      () => {
        if (++runs < 3) k.ExQueueWorkItem(item, WorkQueueType.CriticalWorkQueue);
        else k.KeSetEvent(done);
      },
      null,
      "self-requeue",
    );
    k.ExQueueWorkItem(item, WorkQueueType.CriticalWorkQueue);
    await k.KeWaitForSingleObject(done);
  });
  const r = await k.run();
  t.is(r.outcome, "idle", r.stop?.format());
  t.is(runs, 3);
});

test("a DPC may queue a work item; the item runs at PASSIVE_LEVEL", async (t) => {
  const k = new Kernel({ trace: true });
  const done = k.KeInitializeEvent(EventType.NotificationEvent, false, "done");
  const log: string[] = [];
  k.createThread(k.createProcess("app"), "main", async () => {
    const item = k.ExInitializeWorkItem(
      () => {
        log.push(`item at irql ${k.KeGetCurrentIrql()} time ${k.KeQuerySystemTime()}`);
        k.KeSetEvent(done);
      },
      null,
      "from dpc",
    );
    const dpc = k.KeInitializeDpc(
      () => {
        log.push(`dpc at irql ${k.KeGetCurrentIrql()}`);
        k.ExQueueWorkItem(item, WorkQueueType.DelayedWorkQueue);
      },
      null,
      "timer dpc",
    );
    k.KeSetTimer(k.KeInitializeTimer(), -300, dpc);
    await k.KeWaitForSingleObject(done);
  });
  const r = await k.run();
  t.is(r.outcome, "idle");
  t.deepEqual(log, [`dpc at irql ${DISPATCH_LEVEL}`, `item at irql ${PASSIVE_LEVEL} time 300`]);
});

test("a worker routine that returns at DISPATCH_LEVEL is bug check 0xE1", async (t) => {
  const k = new Kernel();
  k.createThread(k.createProcess("app"), "main", async () => {
    k.ExQueueWorkItem(
      k.ExInitializeWorkItem(() => void k.KeRaiseIrql(DISPATCH_LEVEL), null, "raiser"),
      WorkQueueType.CriticalWorkQueue,
    );
    await k.KeDelayExecutionThread(-10);
  });
  const stop = stopOf(await k.run());
  t.is(stop.code, BUGCHECK.WORKER_THREAD_RETURNED_AT_BAD_IRQL);
  t.is(stop.code, 0xe1);
  t.is(stop.params[1], BigInt(DISPATCH_LEVEL));
  t.is(stop.thread?.name, "Critical worker 1");
  t.is(stop.thread?.process, "System");
  t.regex(stop.reason, /"raiser" returned at DISPATCH_LEVEL/);
});

test("a worker routine that returns holding a lock is a stop", async (t) => {
  const k = new Kernel();
  const res = k.ExInitializeResourceLite("Fcb");
  k.createThread(k.createProcess("app"), "main", async () => {
    k.ExQueueWorkItem(
      k.ExInitializeWorkItem(
        async () => {
          await k.ExAcquireResourceExclusiveLite(res, true);
        },
        null,
        "leaker",
      ),
      WorkQueueType.DelayedWorkQueue,
    );
    await k.KeDelayExecutionThread(-10);
  });
  const stop = stopOf(await k.run());
  t.is(stop.code, 0xe1);
  t.regex(stop.reason, /"leaker" returned holding ERESOURCE "Fcb" \(exclusive\)/);
});

test("an exception in a worker routine is bug check 0x7E with the error as cause", async (t) => {
  const k = new Kernel();
  const err = new TypeError("Cannot read properties of undefined (reading 'Fcb')");
  k.createThread(k.createProcess("app"), "main", async () => {
    k.ExQueueWorkItem(
      k.ExInitializeWorkItem(
        () => {
          throw err;
        },
        null,
        "crasher",
      ),
      WorkQueueType.CriticalWorkQueue,
    );
    await k.KeDelayExecutionThread(-10);
  });
  const stop = stopOf(await k.run());
  t.is(stop.code, BUGCHECK.SYSTEM_THREAD_EXCEPTION_NOT_HANDLED);
  t.is(stop.cause, err);
  t.is(stop.params[0], 0xc0000005n, "a TypeError is reported as an access violation");
  t.is(stop.thread?.name, "Critical worker 1");
  t.deepEqual(stop.callChain, ["worker: crasher"]);
});

test("a stop in a work item names who queued it: thread, time, step and call chain at ExQueueWorkItem", async (t) => {
  const k = new Kernel();
  k.createThread(k.createProcess("app"), "main", async (me) => {
    await k.KeDelayExecutionThread(-500);
    me.stepLabel = "steps[2] post.yaml:9";
    me.frames.push("MRxCleanupFobx [bugrdr]");
    const item = k.ExInitializeWorkItem(() => k.bugCheck(0xe2, [0n, 0n, 0n, 0n], "manual"), null, "late close");
    k.ExQueueWorkItem(item, WorkQueueType.DelayedWorkQueue);
    me.frames.pop();
    await k.KeDelayExecutionThread(-10);
  });
  const stop = stopOf(await k.run());
  t.is(stop.thread?.name, "Delayed worker 1");
  t.deepEqual(stop.callChain, ["worker: late close"]);
  t.deepEqual(stop.queuedBy, {
    thread: { id: 1, name: "main", process: "app" },
    time: 500,
    step: "steps[2] post.yaml:9",
    callChain: ["MRxCleanupFobx [bugrdr]", "ExQueueWorkItem"],
  });
  t.regex(
    stop.format(),
    /\nWork item queued by thread 1 "main" at 0\.000050 s \(steps\[2\] post\.yaml:9\), call chain:\n {2}MRxCleanupFobx \[bugrdr\]\n {2}ExQueueWorkItem(\n|$)/,
  );
  t.is((stop.toJSON().queuedBy as { step: string }).step, "steps[2] post.yaml:9");
});

test("a stop on a thread that runs no work item has no queuedBy", async (t) => {
  const k = new Kernel();
  k.createThread(k.createProcess("app"), "main", () => k.bugCheck(0xe2, [0n, 0n, 0n, 0n], "manual"));
  const stop = stopOf(await k.run());
  t.is(stop.queuedBy, null);
  t.notRegex(stop.format(), /queued by/);
});

test("a worker blocked inside its routine keeps the run alive and shows in a deadlock", async (t) => {
  const k = new Kernel();
  const never = k.KeInitializeEvent(EventType.NotificationEvent, false, "never");
  k.createThread(k.createProcess("app"), "main", () => {
    k.ExQueueWorkItem(
      k.ExInitializeWorkItem(
        async () => {
          await k.KeWaitForSingleObject(never);
        },
        null,
        "stuck",
      ),
      WorkQueueType.DelayedWorkQueue,
    );
  });
  const stop = stopOf(await k.run());
  t.is(stop.kind, "deadlock");
  t.deepEqual(
    stop.waits.map((w) => `${w.thread.name}: ${w.waitsFor}`),
    ['Delayed worker 1: KEVENT "never"'],
  );
});

// An invalid queue type is the documented bug check 0xE4 with parameter 1 = 0x6 (WORKER_INVALID_CODES.INVALID_QUEUE_TYPE),
// not an exception inside the emulator.
test("ExQueueWorkItem to an invalid queue type is bug check 0xE4 INVALID_QUEUE_TYPE", async (t) => {
  const { r } = await runThread((k) => {
    k.ExQueueWorkItem(
      k.ExInitializeWorkItem(() => undefined, null, "lost"),
      7 as WORK_QUEUE_TYPE,
    );
  });
  t.deepEqual(r.threadErrors, []);
  const stop = stopOf(r);
  t.is(stop.code, BUGCHECK.WORKER_INVALID);
  t.is(stop.params[0], BigInt(WORKER_INVALID_CODES.INVALID_QUEUE_TYPE.code));
});
