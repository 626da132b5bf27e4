/**
 * End to end, what only nulmrx promises on top of the shared suites: its control plane (GETLIST / GETCONN), its
 * closeDelayedFiles option, its volume information, its notification bookkeeping, and its behaviour under the
 * "reactos" profile (create dispositions through ReturnedCreateInformation only).
 */
import test from "ava";
import {
  decodeFsInformation,
  FILE_CREATE,
  FILE_CREATED,
  FILE_LIST_DIRECTORY,
  FILE_NOTIFY_CHANGE_FILE_NAME,
  FILE_OPEN,
  FILE_OPENED,
  FS_INFORMATION_CLASS,
  isDecodeError,
  SYNCHRONIZE,
} from "../../emulator/io/index.js";
import { STATUS } from "../../emulator/kernel/index.js";
import {
  IOCTL_NULMRX,
  loadNulMrx,
  type NulMrx,
  type NulMrxOptions,
  type NulNetworkProvider,
} from "../../miniredirs/nulmrx/index.js";
import { assertClean, is, type MiniRdrTarget, mrxSequence, nulmrxTarget, scenario } from "../conformance/suite.js";

const S = STATUS;

/** nulmrx with options; `instance.mrx` is the loaded NulMrx. */
function withOptions(options: NulMrxOptions): { target: MiniRdrTarget; instance: { mrx: NulMrx | null } } {
  const instance: { mrx: NulMrx | null } = { mrx: null };
  const target: MiniRdrTarget = {
    ...nulmrxTarget,
    load: async (em) => {
      const r = await loadNulMrx(em, options);
      instance.mrx = r.mrx;
      return r.status;
    },
  };
  return { target, instance };
}

const utf16 = (s: string): Uint8Array => {
  const b = new Uint8Array(s.length * 2);
  for (let i = 0; i < s.length; i++) b[i * 2] = s.charCodeAt(i);
  return b;
};
const fromUtf16 = (b: Uint8Array | null, n: number): string =>
  b
    ? String.fromCharCode(...Array.from({ length: n / 2 }, (_, i) => (b[2 * i] ?? 0) | ((b[2 * i + 1] ?? 0) << 8)))
    : "";

test("nulmrx: GETLIST and GETCONN follow net use and net use /delete", async (t) => {
  const { run } = await scenario(nulmrxTarget, async (s) => {
    const np = s.np as NulNetworkProvider;
    const list = async () => {
      const r = await np.control(IOCTL_NULMRX.GETLIST, new Uint8Array(0), 26);
      is(t, r.Status, S.STATUS_SUCCESS);
      t.is(r.Information, 26);
      return [...(r.Output ?? [])].flatMap((v, i) => (v ? [String.fromCharCode(65 + i)] : []));
    };
    t.deepEqual(await list(), ["N"]);
    is(t, await np.netUse("P", "\\\\srv\\public"), S.STATUS_SUCCESS);
    t.deepEqual(await list(), ["N", "P"]);
    const conn = await np.control(IOCTL_NULMRX.GETCONN, utf16("P"), 64);
    is(t, conn.Status, S.STATUS_SUCCESS);
    t.is(fromUtf16(conn.Output, conn.Information), "\\srv\\public");
    is(t, (await np.control(IOCTL_NULMRX.GETCONN, utf16("Z"), 64)).Status, S.STATUS_NO_SUCH_FILE);
    is(t, (await np.control(IOCTL_NULMRX.GETLIST, new Uint8Array(0), 10)).Status, S.STATUS_BUFFER_TOO_SMALL);
    is(t, await np.netUseDelete("P", 0), S.STATUS_SUCCESS);
    t.deepEqual(await list(), ["N"]);
    is(t, await np.netUseDelete("P", 0), S.STATUS_NO_SUCH_FILE, "no such drive any more");
    is(t, (await np.control(0x12345678)).Status, S.STATUS_INVALID_DEVICE_REQUEST);
  });
  assertClean(t, run);
});

test("nulmrx: closeDelayedFiles 0 closes at once; the MRx calls of one file's life in order", async (t) => {
  const { target } = withOptions({ closeDelayedFiles: 0 });
  const { run, em } = await scenario(target, async (s) => {
    const h = await s.mustOpen("\\life.txt", { disposition: FILE_CREATE });
    await s.write(h, "life", 0);
    await s.read(h, 4, 0);
    await s.nt.NtClose(h);
    t.is(s.calls("MRxCloseSrvOpen"), 1, "closed at the close, no scavenger needed");
    t.is(s.dev.NumberOfActiveFcbs, 0);
    // Reopening cannot collapse: a new MRxCreate.
    const h2 = await s.mustOpen("\\life.txt", { disposition: FILE_OPEN });
    t.is(s.calls("MRxCreate"), 2);
    t.is(s.calls("MRxCollapseOpen"), 0);
    await s.nt.NtClose(h2);
  });
  assertClean(t, run);
  const names = [
    "MRxCreate",
    "MRxCollapseOpen",
    "MRxLowIOSubmit[LOWIO_OP_WRITE]",
    "MRxLowIOSubmit[LOWIO_OP_READ]",
    "MRxCleanupFobx",
    "MRxCloseSrvOpen",
    "MRxDeallocateForFobx",
    "MRxForceClosed",
    "MRxDeallocateForFcb",
  ];
  // RxCommonClose → RxCloseAssociatedSrvOpen (MRxCloseSrvOpen) → RxFinalizeNetFobx (MRxDeallocateForFobx) →
  // RxFinalizeSrvOpen of a CLOSED SRV_OPEN (MRxForceClosed, as ReactOS does) → RxFinalizeNetFcb.
  t.deepEqual(mrxSequence(em, names).slice(0, 8), [
    "MRxCreate",
    "MRxLowIOSubmit[LOWIO_OP_WRITE]",
    "MRxLowIOSubmit[LOWIO_OP_READ]",
    "MRxCleanupFobx",
    "MRxCloseSrvOpen",
    "MRxDeallocateForFobx",
    "MRxForceClosed",
    "MRxDeallocateForFcb",
  ]);
});

test("nulmrx: volume label and file-system name", async (t) => {
  const { run } = await scenario(nulmrxTarget, async (s) => {
    const h = await s.mustOpen("\\v.txt");
    const FS = FS_INFORMATION_CLASS;
    const vol = await s.nt.NtQueryVolumeInformationFile(h, {
      FsInformationClass: FS.FileFsVolumeInformation,
      Length: 128,
    });
    const v = decodeFsInformation(FS.FileFsVolumeInformation, vol.Buffer, vol.Information);
    t.like(isDecodeError(v) ? {} : v, { volumeLabel: "NULMRX", volumeSerialNumber: 0x4e554c });
    const attr = await s.nt.NtQueryVolumeInformationFile(h, {
      FsInformationClass: FS.FileFsAttributeInformation,
      Length: 128,
    });
    const a = decodeFsInformation(FS.FileFsAttributeInformation, attr.Buffer, attr.Information);
    t.is(isDecodeError(a) ? "" : a.fileSystemName, "NulMRx");
    // A class nulmrx does not answer.
    const full = await s.nt.NtQueryVolumeInformationFile(h, {
      FsInformationClass: FS.FileFsFullSizeInformation,
      Length: 32,
    });
    is(t, full.Status, S.STATUS_INVALID_PARAMETER);
    await s.nt.NtClose(h);
  });
  assertClean(t, run);
});

test("nulmrx: pending notifications are forgotten after completion, cancel and cleanup", async (t) => {
  const { target, instance } = withOptions({});
  const { run } = await scenario(target, async (s) => {
    const mrx = instance.mrx as NulMrx;
    await s.mkdir("\\n");
    const d = await s.openDir("\\n", { sync: false, access: FILE_LIST_DIRECTORY | SYNCHRONIZE });
    const watch = () =>
      s.nt.NtNotifyChangeDirectoryFile(d.FileHandle, { CompletionFilter: FILE_NOTIFY_CHANGE_FILE_NAME, Length: 256 });
    const a = await watch();
    const b = await watch();
    t.is(mrx.pendingNotifications, 2);
    await s.createFile("\\n\\x");
    t.is(mrx.pendingNotifications, 0, "one change completes every matching request");
    is(t, a.request?.IoStatusBlock.Status ?? 0, S.STATUS_SUCCESS);
    is(t, b.request?.IoStatusBlock.Status ?? 0, S.STATUS_SUCCESS);
    await watch();
    await s.nt.NtCancelIoFile(d.FileHandle);
    t.is(mrx.pendingNotifications, 0);
    await watch();
    await s.nt.NtClose(d.FileHandle);
    t.is(mrx.pendingNotifications, 0);
  });
  assertClean(t, run);
});

test("nulmrx: under the reactos profile creates report their disposition (the 0xABCDEF canary is left alone)", async (t) => {
  const { run } = await scenario(
    nulmrxTarget,
    async (s) => {
      const c = await s.open("\\r.txt", { disposition: FILE_CREATE });
      is(t, c.Status, S.STATUS_SUCCESS);
      t.is(c.Information, FILE_CREATED);
      await s.nt.NtClose(c.FileHandle);
      // Same access: collapses onto the dormant open; the profile takes ReturnedCreateInformation.
      const o = await s.open("\\r.txt", { disposition: FILE_OPEN });
      is(t, o.Status, S.STATUS_SUCCESS);
      t.is(s.calls("MRxCollapseOpen"), 1);
      t.is(o.Information, FILE_OPENED);
      await s.nt.NtClose(o.FileHandle);
    },
    { profile: "reactos" },
  );
  assertClean(t, run);
});
