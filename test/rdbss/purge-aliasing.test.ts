/**
 * RxPurgeRelatedFobxs's aliasing check (§3: MRxAreFilesAliased, called "when the purging FCB differs"; §6: a rename
 * or a delete runs RxPurgeRelatedFobxs(NetRoot, ctx, TRUE, Fcb) and then RxScavengeFobxsForNetRoot). Before a file
 * is deleted, RDBSS asks the mini-redirector about each other dormant file of the NET_ROOT — closed by the user, its
 * close delayed — to know whether to purge it from the cache; a directory relates to every file and nothing is asked.
 * The scavenge that follows closes every dormant file of the NET_ROOT whatever the answer: the emulator has no cache,
 * so the answer changes nothing else.
 */
import test from "ava";
import {
  DELETE,
  encodeFileInformation,
  FILE_DIRECTORY_FILE,
  FILE_INFORMATION_CLASS,
  FILE_NON_DIRECTORY_FILE,
  FILE_OPEN_IF,
  FILE_SYNCHRONOUS_IO_NONALERT,
  GENERIC_READ,
  SYNCHRONIZE,
} from "../../emulator/io/index.js";
import { type KernelStop, type NTSTATUS, STATUS, statusName } from "../../emulator/kernel/index.js";
import { type FCB, SRVOPEN_FLAG } from "../../emulator/rdbss/index.js";
import { NulMrx } from "../../miniredirs/nulmrx/index.js";
import * as H from "./_helpers.js";

interface Outcome {
  /** MRxAreFilesAliased(Fcb1, Fcb2) calls, as "Fcb1 vs Fcb2". */
  readonly asked: string[];
  /** The delete's MRxAreFilesAliased and MRxCloseSrvOpen calls, in order. */
  readonly order: string[];
  /** The targets of the delete's MRxCloseSrvOpen calls. */
  readonly closedByDelete: string[];
  /** Whether b.txt's dormant open was still there after the delete. */
  readonly bStillDormant: boolean;
  readonly stop: KernelStop | null;
}

type Answer = NTSTATUS | "no entry" | "throws";

/** Leave b.txt dormant, then delete `victim` (a file or, with `dir`, a directory) through FileDispositionInformation. */
async function deleteBeside(answer: Answer, victim: { name: string; dir: boolean }): Promise<Outcome> {
  const asked: string[] = [];
  const w = await H.makeWorld({
    makeMrx: (em) => {
      const m = new NulMrx(em.rx, {}) as NulMrx & { MRxAreFilesAliased?: (a: FCB, b: FCB) => NTSTATUS };
      if (answer !== "no entry") {
        m.MRxAreFilesAliased = (a, b) => {
          if (answer === "throws") throw new TypeError("aliasing table not initialised");
          asked.push(`${a.FcbTablePath} vs ${b.FcbTablePath}`);
          return answer;
        };
      }
      return m;
    },
  });
  let order: string[] = [];
  let closedByDelete: string[] = [];
  let bStillDormant = false;
  const r = await H.user(w, async (np) => {
    const nt = w.em.sys.nt;
    await np.netUse("N", "\\\\srv\\share");
    const b = await H.openFile(w, "\\??\\N:\\b.txt");
    await nt.NtClose(b.FileHandle);
    const bFcb = H.only(H.fcbs(w, H.connection(w).netRoot).filter((f) => f.FcbTablePath === "\\b.txt"));
    const v = await nt.NtCreateFile({
      ObjectName: `\\??\\N:\\${victim.name}`,
      DesiredAccess: GENERIC_READ | DELETE | SYNCHRONIZE,
      ShareAccess: 7,
      CreateDisposition: FILE_OPEN_IF,
      CreateOptions: (victim.dir ? FILE_DIRECTORY_FILE : FILE_NON_DIRECTORY_FILE) | FILE_SYNCHRONOUS_IO_NONALERT,
    });
    const before = w.em.rx.mrxLog.length;
    const buf = new Uint8Array(1);
    encodeFileInformation(FILE_INFORMATION_CLASS.FileDispositionInformation, { deleteFile: true }, buf);
    const s = await nt.NtSetInformationFile(v.FileHandle, {
      FileInformationClass: FILE_INFORMATION_CLASS.FileDispositionInformation,
      Buffer: buf,
    });
    if (s.Status !== STATUS.STATUS_SUCCESS) throw new Error(`delete: ${statusName(s.Status)}`);
    order = H.mrxOrder(w, ["MRxAreFilesAliased", "MRxCloseSrvOpen"], before);
    closedByDelete = w.em.rx.mrxLog
      .slice(before)
      .filter((c) => c.name === "MRxCloseSrvOpen")
      .map((c) => c.target);
    bStillDormant = bFcb.freed === null && (H.srvOpenOf(bFcb).Flags & SRVOPEN_FLAG.SRVOPEN_FLAG_CLOSE_DELAYED) !== 0;
    await nt.NtClose(v.FileHandle);
  });
  if (answer !== "throws") H.clean(r);
  return { asked, order, closedByDelete, bStillDormant, stop: r.stop };
}

test("a file's delete asks MRxAreFilesAliased(Fcb, PurgingFcb) about each other dormant file, then closes them all", async (t) => {
  for (const answer of [STATUS.STATUS_SUCCESS, STATUS.STATUS_MORE_PROCESSING_REQUIRED]) {
    const o = await deleteBeside(answer, { name: "a.txt", dir: false });
    t.deepEqual(o.asked, ["\\b.txt vs \\a.txt"], statusName(answer));
    t.deepEqual(o.order, ["MRxAreFilesAliased", "MRxCloseSrvOpen"], statusName(answer));
    t.false(o.bStillDormant, statusName(answer));
    t.regex(o.closedByDelete.join(), /b\.txt/);
  }
});

test("no MRxAreFilesAliased entry: nothing is asked (the call-through gives STATUS_NOT_IMPLEMENTED); the dormant file is still closed", async (t) => {
  const o = await deleteBeside("no entry", { name: "a.txt", dir: false });
  t.deepEqual(o.asked, []);
  t.deepEqual(o.order, ["MRxCloseSrvOpen"]);
  t.false(o.bStillDormant);
});

test("a directory's delete relates to every file: nothing is asked", async (t) => {
  const o = await deleteBeside(STATUS.STATUS_SUCCESS, { name: "d", dir: true });
  t.deepEqual(o.asked, []);
  t.deepEqual(o.order, ["MRxCloseSrvOpen"]);
  t.false(o.bStillDormant);
});

test("MRxAreFilesAliased runs as an MRx routine: one that throws is a kernel-mode exception stop during the delete", async (t) => {
  const o = await deleteBeside("throws", { name: "a.txt", dir: false });
  t.is(o.stop?.name, "KMODE_EXCEPTION_NOT_HANDLED");
  t.regex(o.stop?.reason ?? "", /TypeError: aliasing table not initialised/);
  t.true(o.stop?.callChain.includes("NtSetInformationFile"), o.stop?.callChain.join(" / "));
});
