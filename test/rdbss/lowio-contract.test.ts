/**
 * The LowIo return contract (catalogue entry minirdrContract.lowio-completed-and-returned): MRxLowIOSubmit either
 * returns STATUS_PENDING and later calls RxLowIoCompletion, or returns its final status without calling it. A call
 * that does both is named as such, on synchronous and asynchronous handles alike, before RDBSS completes it a
 * second time (which on an asynchronous handle used to surface only as a resource released twice). And what
 * RxLowIoCompletion itself returns (lowio/nf-lowio-rxlowiocompletion).
 */
import test from "ava";
import { FILE_OPEN_IF, FILE_SYNCHRONOUS_IO_NONALERT, GENERIC_READ, SYNCHRONIZE } from "../../emulator/io/index.js";
import { type NTSTATUS, STATUS, statusName, WorkQueueType } from "../../emulator/kernel/index.js";
import {
  LOWIO_CONTEXT_FLAG,
  LowIoOp,
  RDBSS_ASSERT,
  type RDBSS_DEVICE_OBJECT,
  type RX_CONTEXT,
} from "../../emulator/rdbss/index.js";
import { NulMrx } from "../../miniredirs/nulmrx/index.js";
import { fatal, NET_USE, passed, rdbssStop, runBug } from "../verifier/_run.js";
import * as H from "./_helpers.js";

const BUG = "minirdrContract.lowio-completed-and-returned";

function steps(synchronous: boolean): string {
  return (
    `steps:\n${NET_USE}` +
    `  - op: create\n    path: X:\\f.txt\n    as: h\n    synchronous: ${synchronous}\n` +
    "  - op: write\n    handle: h\n    offset: 0\n    data: four\n" +
    "  - op: read\n    handle: h\n    offset: 0\n    length: 4\n"
  );
}

for (const synchronous of [true, false]) {
  test(`a read that calls RxLowIoCompletion and returns STATUS_SUCCESS, ${synchronous ? "synchronous" : "asynchronous"} handle: the contract stop, during the read`, async (t) => {
    const r = await runBug(BUG, steps(synchronous), { expect: "  stop: any\n" });
    const s = rdbssStop(t, r, "minirdrContract", RDBSS_ASSERT.LOWIO_COMPLETED_AND_RETURNED);
    t.regex(
      s.reason,
      /^MRxLowIOSubmit\[LOWIO_OP_READ\] called RxLowIoCompletion for RX_CONTEXT#\d+ and then returned STATUS_SUCCESS: /,
    );
    t.true(s.callChain.includes("NtReadFile"), s.callChain.join(" / "));
    t.regex(s.steps.join("\n"), /\(steps\[3\], read\)/);
    // The correct mini-redirector, same steps: nothing to report.
    passed(t, await runBug("none", steps(synchronous)));
  });
}

test("in record mode the synchronous case is kept as a violation and the read still returns its data", async (t) => {
  const r = await runBug(BUG, `${steps(true)}    expect: { data: four }\n`, {
    setup: "  checks: { minirdrContract: record }\n",
    expect: "  violations: [minirdrContract]\n",
  });
  passed(t, r);
  t.is(fatal(r), null);
  const recorded = r.stops.filter((s) => !s.fatal);
  t.is(recorded.length, 1);
  t.regex(recorded[0]?.reason ?? "", /called RxLowIoCompletion .* and then returned STATUS_SUCCESS/);
});

// ---------------------------------------------------------------- RxLowIoCompletion's return value

type Where = "worker" | "dpc" | "dpc, CAN_COMPLETE_AT_DPC_LEVEL";

/** A read past the end of the file, pended and completed later from `where`: what RxLowIoCompletion returned. */
async function completionReturn(where: Where, synchronous: boolean): Promise<{ returned: string; read: string }> {
  let returned: NTSTATUS | null = null;
  const w = await H.makeWorld({
    makeMrx: (em) => {
      const m = new NulMrx(em.rx, {});
      const lowio = [...m.MRxLowIOSubmit];
      lowio[LowIoOp.LOWIO_OP_READ] = (ctx: RX_CONTEXT) => {
        const k = em.rx.k;
        const complete = (): void => {
          ctx.IoStatusBlock.Status = STATUS.STATUS_END_OF_FILE;
          returned = em.rx.RxLowIoCompletion(ctx);
        };
        if (where === "worker") {
          em.rx.RxDispatchToWorkerThread(
            m.device as RDBSS_DEVICE_OBJECT,
            WorkQueueType.DelayedWorkQueue,
            complete,
            ctx,
          );
        } else {
          if (where !== "dpc")
            ctx.LowIoContext.Flags |= LOWIO_CONTEXT_FLAG.LOWIO_CONTEXT_FLAG_CAN_COMPLETE_AT_DPC_LEVEL;
          k.KeSetTimer(
            k.KeInitializeTimer(undefined, "transport"),
            -10_000,
            k.KeInitializeDpc(complete, ctx, "receive"),
          );
        }
        return STATUS.STATUS_PENDING;
      };
      (m as unknown as { MRxLowIOSubmit: typeof lowio }).MRxLowIOSubmit = lowio;
      return m;
    },
  });
  let read: NTSTATUS = STATUS.STATUS_UNSUCCESSFUL;
  const r = await H.user(w, async (np) => {
    await np.netUse("N", "\\\\srv\\share");
    const nt = w.em.sys.nt;
    const f = await nt.NtCreateFile({
      ObjectName: "\\??\\N:\\f.txt",
      DesiredAccess: GENERIC_READ | SYNCHRONIZE,
      CreateDisposition: FILE_OPEN_IF,
      CreateOptions: synchronous ? FILE_SYNCHRONOUS_IO_NONALERT : 0,
    });
    const rd = await nt.NtReadFile(f.FileHandle, { Length: 4, ByteOffset: 100 });
    read = rd.request ? ((await rd.request.wait())?.Status ?? read) : rd.Status;
    await nt.NtClose(f.FileHandle);
  });
  if (r.stop !== null) throw new Error(r.stop.format());
  return { returned: returned === null ? "not called" : statusName(returned), read: statusName(read) };
}

test("RxLowIoCompletion returns what its page says: STATUS_MORE_PROCESSING_REQUIRED for a synchronous context or a deferred completion, else the completion routine's result", async (t) => {
  const MORE = "STATUS_MORE_PROCESSING_REQUIRED";
  const EOF = "STATUS_END_OF_FILE";
  t.deepEqual(await completionReturn("worker", true), { returned: MORE, read: EOF });
  t.deepEqual(await completionReturn("dpc", true), { returned: MORE, read: EOF });
  t.deepEqual(await completionReturn("worker", false), { returned: EOF, read: EOF });
  // At DISPATCH_LEVEL without the flag the completion is posted to a worker.
  t.deepEqual(await completionReturn("dpc", false), { returned: MORE, read: EOF });
  t.deepEqual(await completionReturn("dpc, CAN_COMPLETE_AT_DPC_LEVEL", false), { returned: EOF, read: EOF });
});
