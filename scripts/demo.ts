/**
 * The built-in demonstration of the kernel and I/O manager (the main command until the scenario runner
 * exists): a user program talks to a network-redirector-shaped test driver through MUP, with pending I/O
 * completed from DPCs, change notifications and cancellation; then the same program against a buggy build of the
 * driver, whose double completion the emulator stops on; then a seeded race, replayed exactly.
 */
import { createHash } from "node:crypto";
import { bootEmulator, createEmulator, inSystemThread } from "../emulator/boot.js";
import {
  bootIo,
  FILE_CREATED,
  FILE_DIRECTORY_FILE,
  FILE_LIST_DIRECTORY,
  FILE_NOTIFY_CHANGE_LAST_WRITE,
  FILE_OPEN,
  FILE_OPEN_IF,
  FILE_SHARE_READ,
  FILE_SHARE_WRITE,
  FILE_SYNCHRONOUS_IO_NONALERT,
  GENERIC_READ,
  GENERIC_WRITE,
  SYNCHRONIZE,
} from "../emulator/io/index.js";
import {
  formatTime,
  Kernel,
  type KernelStop,
  type NTSTATUS,
  ReplayStrategy,
  type RunResult,
  STATUS,
  statusName,
} from "../emulator/kernel/index.js";
import { loadNulMrx, type NulMrx, NulNetworkProvider } from "../miniredirs/nulmrx/index.js";
import { PendingDriver, type PendingDriverOptions } from "../test/drivers/pending-driver.js";

export interface DemoOptions {
  readonly seed: number;
  readonly strategy: "fifo" | "random";
  readonly out: (line: string) => void;
}

interface ProgramRun {
  readonly result: RunResult;
  readonly lines: string[];
  readonly traceHash: string;
  readonly driverLog: readonly string[];
}

const enc = new TextEncoder();
const dec = new TextDecoder();

/** Boot the kernel, MUP and the test driver, then run the user program on two threads. */
async function runProgram(
  seed: number,
  strategy: "fifo" | "random" | ReplayStrategy,
  bugs: PendingDriverOptions["bugs"] = {},
): Promise<ProgramRun> {
  const k = new Kernel({ seed, strategy, trace: true });
  const sys = bootIo(k);
  const drv = new PendingDriver(sys, { bugs, latency: 20_000 });
  k.PsCreateSystemThread("boot", async () => {
    await sys.mup.start();
    await drv.load();
  });
  const boot = await k.run();
  const lines: string[] = [];
  if (boot.stop) return { result: boot, lines, traceHash: "", driverLog: drv.log };
  const say = (call: string, status: NTSTATUS, extra = ""): void => {
    lines.push(`  ${call.padEnd(58)} → ${statusName(status)}${extra ? ` ${extra}` : ""}`);
  };
  const nt = sys.nt;
  const app = k.createProcess("demo.exe");
  k.createThread(app, "main", async () => {
    const f = await nt.NtCreateFile({
      ObjectName: "\\??\\UNC\\pend\\hello.txt",
      DesiredAccess: GENERIC_READ | GENERIC_WRITE | SYNCHRONIZE,
      ShareAccess: FILE_SHARE_READ | FILE_SHARE_WRITE,
      CreateDisposition: FILE_OPEN_IF,
      CreateOptions: FILE_SYNCHRONOUS_IO_NONALERT,
    });
    say("NtCreateFile \\??\\UNC\\pend\\hello.txt", f.Status, f.Information === FILE_CREATED ? "(FILE_CREATED)" : "");
    const w = await nt.NtWriteFile(f.FileHandle, { Buffer: enc.encode("hello, redirector") });
    say("NtWriteFile 17 bytes", w.Status, `(${w.Information} written, completed by a DPC)`);
    const r = await nt.NtReadFile(f.FileHandle, { Length: 10, ByteOffset: 7 });
    say("NtReadFile 10 bytes at offset 7", r.Status, `"${dec.decode(r.Buffer.subarray(0, r.Information))}"`);
    const d = await nt.NtCreateFile({
      ObjectName: "\\??\\UNC\\pend\\dir",
      DesiredAccess: FILE_LIST_DIRECTORY,
      ShareAccess: FILE_SHARE_READ | FILE_SHARE_WRITE,
      CreateDisposition: FILE_OPEN,
      CreateOptions: FILE_DIRECTORY_FILE,
    });
    say("NtCreateFile \\??\\UNC\\pend\\dir (asynchronous handle)", d.Status);
    const n = await nt.NtNotifyChangeDirectoryFile(d.FileHandle, {
      CompletionFilter: FILE_NOTIFY_CHANGE_LAST_WRITE,
      Length: 512,
    });
    say("NtNotifyChangeDirectoryFile LAST_WRITE", n.Status, "(pending, cancel routine armed)");
    // A second thread changes the file; the notification completes.
    k.createThread(app, "writer", async () => {
      const w2 = await nt.NtWriteFile(f.FileHandle, { Buffer: enc.encode("!"), ByteOffset: 17 });
      say("[writer] NtWriteFile 1 byte at offset 17", w2.Status);
    });
    const done = await n.request?.wait();
    if (done) say("  notification completed", done.Status, `(${done.Information} bytes of FILE_NOTIFY_INFORMATION)`);
    const n2 = await nt.NtNotifyChangeDirectoryFile(d.FileHandle, {
      CompletionFilter: FILE_NOTIFY_CHANGE_LAST_WRITE,
      Length: 512,
    });
    say("NtNotifyChangeDirectoryFile again", n2.Status);
    say(
      "NtCancelIoFile (directory handle)",
      await nt.NtCancelIoFile(d.FileHandle),
      `notify → ${statusName(n2.request?.Status ?? 0)}`,
    );
    say("NtClose directory", await nt.NtClose(d.FileHandle));
    say("NtClose file", await nt.NtClose(f.FileHandle));
  });
  const result = await k.run();
  const traceHash = createHash("sha256").update(k.trace.lines().join("\n")).digest("hex").slice(0, 16);
  return { result, lines, traceHash, driverLog: drv.log };
}

function printStop(out: (l: string) => void, stop: KernelStop): void {
  for (const l of stop.format().split("\n")) out(`  ${l}`);
}

/** Run the demo; returns the process exit code (0 when everything behaved as it should). */
export async function runDemo(opts: DemoOptions): Promise<number> {
  const out = opts.out;
  let ok = true;
  out("rdbss-emulator demo: kernel, I/O manager and MUP driving a test redirector");
  out(`seed ${opts.seed}, strategy ${opts.strategy}`);
  out("");
  out("1. A user program opens \\\\pend\\hello.txt through MUP and does I/O");
  const healthy = await runProgram(opts.seed, opts.strategy);
  for (const l of healthy.lines) out(l);
  if (healthy.result.stop) {
    ok = false;
    printStop(out, healthy.result.stop);
  }
  out(`  driver saw: ${healthy.driverLog.join("; ")}`);
  out(
    `  run: ${healthy.result.outcome}, ${healthy.result.steps} scheduling steps, virtual time ${formatTime(healthy.result.time)}, trace ${healthy.traceHash}`,
  );
  out("");
  out("2. The same program against a driver that completes its reads twice");
  const buggy = await runProgram(opts.seed, opts.strategy, { doubleComplete: true });
  for (const l of buggy.lines) out(l);
  if (buggy.result.stop) printStop(out, buggy.result.stop);
  else out("  (no stop: the bug was not caught)");
  if (buggy.result.stop?.code !== 0x44) ok = false;
  out("");
  out("3. Determinism: a random schedule, then its replay from the recorded choices");
  const first = await runProgram(opts.seed, "random");
  const replay = await runProgram(opts.seed, new ReplayStrategy(first.result.choices, undefined, true));
  const same = first.traceHash === replay.traceHash;
  out(`  seed ${opts.seed}: ${first.result.choices.length} scheduling choices, trace ${first.traceHash}`);
  out(`  replay:        trace ${replay.traceHash} ${same ? "(identical)" : "(DIFFERENT)"}`);
  if (!same) ok = false;
  out("");
  out("4. RDBSS and the nulmrx mini-redirector: net use, files, and deleting a connection with a file open");
  const r4 = await rdbssLifecycle(opts.seed, out);
  if (!r4) ok = false;
  out("");
  out("5. A mini-redirector whose MRxCreateSrvCall returns STATUS_SUCCESS instead of STATUS_PENDING");
  const r5 = await brokenMiniRdr(opts.seed, out);
  if (!r5) ok = false;
  out("");
  out(ok ? "demo: all as expected" : "demo: something did not behave as expected");
  return ok ? 0 : 1;
}

/** RDBSS + nulmrx end to end; returns whether everything behaved as documented. */
async function rdbssLifecycle(seed: number, out: (l: string) => void): Promise<boolean> {
  const em = createEmulator({ seed });
  await bootEmulator(em);
  await inSystemThread(em, "load nulmrx", () => loadNulMrx(em));
  const np = new NulNetworkProvider(em);
  const nt = em.sys.nt;
  const seen: NTSTATUS[] = [];
  const say = (call: string, status: NTSTATUS): void => {
    seen.push(status);
    out(`  ${call.padEnd(58)} → ${statusName(status)}`);
  };
  em.k.createThread(em.k.createProcess("net.exe"), "user", async () => {
    say("START (IOCTL on \\Device\\NulMRx → RxStartMinirdr)", await np.start());
    say("net use N: \\\\srv\\share (ADDCONN → tree connect)", await np.netUse("N", "\\\\srv\\share"));
    const f = await nt.NtCreateFile({
      ObjectName: "\\??\\N:\\notes.txt",
      DesiredAccess: GENERIC_READ | GENERIC_WRITE | SYNCHRONIZE,
      ShareAccess: FILE_SHARE_READ,
      CreateDisposition: FILE_OPEN_IF,
      CreateOptions: FILE_SYNCHRONOUS_IO_NONALERT,
    });
    say("NtCreateFile N:\\notes.txt (MRxCreate)", f.Status);
    say("NtWriteFile (LowIo WRITE)", (await nt.NtWriteFile(f.FileHandle, { Buffer: enc.encode("kept") })).Status);
    say("net use N: /delete, FALSE (RxFinalizeConnection)", await np.netUseDelete("N", 0));
    say("net use N: /delete, TRUE (files forced closed)", await np.netUseDelete("N", 1));
    say("NtReadFile on the orphaned handle", (await nt.NtReadFile(f.FileHandle, { Length: 4, ByteOffset: 0 })).Status);
    say("NtClose", await nt.NtClose(f.FileHandle));
    // The SRV_CALL and V_NET_ROOT are now only marked for scavenged finalization: let 11 virtual seconds pass.
    await em.k.KeDelayExecutionThread(-11 * 10_000_000);
    say("(11 virtual seconds later) STOP (RxStopMinirdr)", await np.stop());
  });
  const r = await em.k.run();
  if (r.stop) {
    for (const l of r.stop.format().split("\n")) out(`  ${l}`);
    return false;
  }
  const dev = em.rx.devices[0];
  const calls = dev
    ? [
        "MRxCreateSrvCall",
        "MRxCreateVNetRoot",
        "MRxCreate",
        "MRxFinalizeVNetRoot",
        "MRxFinalizeNetRoot",
        "MRxFinalizeSrvCall",
      ]
        .map((n) => `${n}×${dev.mrxCallCount(n)}`)
        .join(" ")
    : "";
  out(`  mini-redirector calls: ${calls}`);
  out(`  objects left in the netname table: ${dev?.pRxNetNameTable.size ?? 0}`);
  const expected = [
    STATUS.STATUS_SUCCESS,
    STATUS.STATUS_SUCCESS,
    STATUS.STATUS_SUCCESS,
    STATUS.STATUS_SUCCESS,
    STATUS.STATUS_FILES_OPEN,
    STATUS.STATUS_SUCCESS,
    STATUS.STATUS_UNEXPECTED_NETWORK_ERROR,
    STATUS.STATUS_SUCCESS,
    STATUS.STATUS_SUCCESS,
  ];
  return seen.length === expected.length && seen.every((s, i) => s === expected[i]);
}

/** A mini-redirector that breaks the two-phase construction contract; returns whether the emulator stopped on it. */
async function brokenMiniRdr(seed: number, out: (l: string) => void): Promise<boolean> {
  const em = createEmulator({ seed });
  await bootEmulator(em);
  const loaded = await inSystemThread(em, "load", () => loadNulMrx(em));
  const mrx = loaded.value?.mrx as NulMrx;
  // The bug: report the result through the callback but return STATUS_SUCCESS instead of STATUS_PENDING.
  mrx.MRxCreateSrvCall = (srvCall, cb) => {
    cb.Status = STATUS.STATUS_SUCCESS;
    cb.SrvCalldownStructure.CallBack(cb);
    void srvCall;
    return STATUS.STATUS_SUCCESS;
  };
  const np = new NulNetworkProvider(em);
  em.k.createThread(em.k.createProcess("net.exe"), "user", async () => {
    await np.start();
    await np.netUse("N", "\\\\srv\\share");
  });
  const r = await em.k.run();
  if (r.stop) for (const l of r.stop.format().split("\n")) out(`  ${l}`);
  else out("  (no stop: the contract violation was not caught)");
  return r.stop?.check === "minirdrContract";
}
