/**
 * LowIo completed asynchronously from a DPC: nulmrx with dpcLatency pends reads and writes and calls
 * RxLowIoCompletion at DISPATCH_LEVEL. RDBSS defers the completion to a worker unless the mini-redirector set
 * LOWIO_CONTEXT_FLAG_CAN_COMPLETE_AT_DPC_LEVEL; synchronous and asynchronous file objects both work.
 */
import test from "ava";
import { bootEmulator, createEmulator, inSystemThread } from "../../emulator/boot.js";
import {
  FILE_OPEN_IF,
  FILE_SYNCHRONOUS_IO_NONALERT,
  GENERIC_READ,
  GENERIC_WRITE,
  SYNCHRONIZE,
} from "../../emulator/io/index.js";
import { STATUS } from "../../emulator/kernel/index.js";
import { loadNulMrx, NulNetworkProvider } from "../../miniredirs/nulmrx/index.js";

async function run(canCompleteAtDpcLevel: boolean, synchronous: boolean) {
  const em = createEmulator({ trace: true });
  await bootEmulator(em);
  await inSystemThread(em, "load", () => loadNulMrx(em, { dpcLatency: 50_000, canCompleteAtDpcLevel }));
  const np = new NulNetworkProvider(em);
  const seen: { write?: number; read?: number; data?: string; pendingWrite?: number; time?: number } = {};
  em.k.createThread(em.k.createProcess("app"), "user", async () => {
    await np.start();
    await np.netUse("N", "\\\\srv\\share");
    const nt = em.sys.nt;
    const f = await nt.NtCreateFile({
      ObjectName: "\\??\\N:\\f.txt",
      DesiredAccess: GENERIC_READ | GENERIC_WRITE | SYNCHRONIZE,
      ShareAccess: 0,
      CreateDisposition: FILE_OPEN_IF,
      CreateOptions: synchronous ? FILE_SYNCHRONOUS_IO_NONALERT : 0,
    });
    const t0 = em.k.KeQuerySystemTime();
    const w = await nt.NtWriteFile(f.FileHandle, { Buffer: new TextEncoder().encode("dpc!"), ByteOffset: 0 });
    seen.pendingWrite = w.Status;
    seen.write = w.request ? ((await w.request.wait())?.Status ?? -1) : w.Status;
    const r = await nt.NtReadFile(f.FileHandle, { Length: 4, ByteOffset: 0 });
    seen.read = r.request ? ((await r.request.wait())?.Status ?? -1) : r.Status;
    seen.data = new TextDecoder().decode(r.Buffer);
    seen.time = em.k.KeQuerySystemTime() - t0;
    await nt.NtClose(f.FileHandle);
  });
  const result = await em.k.run();
  const tail = em.k.trace.events.filter(
    (e) => e.kind === "work.run" && e.what.startsWith("RxLowIoCompletionTail"),
  ).length;
  return { result, seen, deferredTails: tail };
}

test("asynchronous file object: STATUS_PENDING, then completion deferred from DISPATCH_LEVEL to a worker", async (t) => {
  const { result, seen, deferredTails } = await run(false, false);
  t.is(result.stop, null, result.stop?.format());
  t.is(seen.pendingWrite, STATUS.STATUS_PENDING);
  t.is(seen.write, STATUS.STATUS_SUCCESS);
  t.is(seen.read, STATUS.STATUS_SUCCESS);
  t.is(seen.data, "dpc!");
  t.is(seen.time, 100_000, "two round trips of the 5 ms virtual latency");
  t.is(deferredTails, 2, "both completions ran on a worker (RxLowIoCompletionTail)");
});

test("with LOWIO_CONTEXT_FLAG_CAN_COMPLETE_AT_DPC_LEVEL the completion runs in the DPC itself", async (t) => {
  const { result, seen, deferredTails } = await run(true, false);
  t.is(result.stop, null, result.stop?.format());
  t.is(seen.write, STATUS.STATUS_SUCCESS);
  t.is(seen.data, "dpc!");
  t.is(deferredTails, 0);
});

test("synchronous file object: the FSD waits on the context's SyncEvent, which the DPC signals", async (t) => {
  const { result, seen, deferredTails } = await run(false, true);
  t.is(result.stop, null, result.stop?.format());
  t.is(seen.pendingWrite, STATUS.STATUS_SUCCESS);
  t.is(seen.read, STATUS.STATUS_SUCCESS);
  t.is(seen.data, "dpc!");
  t.is(deferredTails, 0);
});
