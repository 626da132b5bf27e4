/**
 * The device-FCB control plane that RDBSS mini-redirectors implement in MRxDevFcbXXXControlFile, as ms-nfs41-client,
 * VBoxSF and the WDK's nulmrx do: START and STOP through RxStartMinirdr / RxStopMinirdr (posted to the file-system
 * process), ADDCONN as a tree-connect open closed at once (the add-connection reference keeps the connection),
 * DELCONN as "open the tree connect, take the V_NET_ROOT from FsContext2, RxFinalizeConnection, close", and the
 * drive-letter table behind GETLIST / GETCONN.
 *
 * Buffers (METHOD_BUFFERED): ADDCONN takes UTF-16LE "\;X:0\server\share" [NUL user NUL password]; DELCONN takes a
 * force-level byte (0 = FALSE, 1 = TRUE, 0xff) then the UTF-16LE name; GETLIST returns 26 bytes (1 per connected
 * drive letter); GETCONN takes a UTF-16LE letter and returns the UTF-16LE remote name.
 */
import type { DRIVER_OBJECT, SystemServices } from "../../emulator/io/index.js";
import { FILE_CREATE_TREE_CONNECTION, FILE_OPEN_IF, type NtCreateFileResult } from "../../emulator/io/index.js";
import { NT_SUCCESS, type NTSTATUS, STATUS } from "../../emulator/kernel/index.js";
import type {
  MiniRdrExtensions,
  NET_ROOT,
  RDBSS_DEVICE_OBJECT,
  Rdbss,
  RX_CONTEXT,
  V_NET_ROOT,
} from "../../emulator/rdbss/index.js";
import { RX_CONTEXT_FLAG } from "../../emulator/rdbss/index.js";

const S = STATUS;

/** The input of an IOCTL that has none (only ever read). */
const NO_INPUT = new Uint8Array(0);
const UTF8 = new TextEncoder();

export interface ControlCodes {
  readonly START: number;
  readonly STOP: number;
  readonly ADDCONN: number;
  readonly DELCONN: number;
  readonly GETLIST: number;
  readonly GETCONN: number;
}

export function utf16(s: string): Uint8Array {
  const b = new Uint8Array(s.length * 2);
  for (let i = 0; i < s.length; i++) {
    b[i * 2] = s.charCodeAt(i) & 0xff;
    b[i * 2 + 1] = s.charCodeAt(i) >> 8;
  }
  return b;
}

export function fromUtf16(b: Uint8Array, off = 0, len = b.length - off): string {
  let s = "";
  for (let i = off; i + 1 < off + len; i += 2) s += String.fromCharCode((b[i] as number) | ((b[i + 1] as number) << 8));
  return s;
}

/** The control plane of one mini-redirector device. */
export class ConnectionControlPlane {
  readonly rx: Rdbss;
  readonly deviceName: string;
  readonly codes: ControlCodes;
  /** Drive letter → remote name ("\server\share"), the LocalConnections table of the samples. */
  readonly localConnections = new Map<string, string>();
  device: RDBSS_DEVICE_OBJECT | null = null;
  private readonly zw: SystemServices;

  constructor(rx: Rdbss, deviceName: string, codes: ControlCodes) {
    this.rx = rx;
    this.deviceName = deviceName;
    this.codes = codes;
    this.zw = rx.sys.nt;
  }

  /** Handle a device-FCB IOCTL; returns undefined for codes that are not part of the control plane. */
  async handle(ctx: RX_CONTEXT): Promise<NTSTATUS | undefined> {
    const p = ctx.LowIoContext.ParamsFor.IoCtl;
    // A view unless the buffer is exactly the input: subarray makes a typed array through the species constructor
    // (docs/PERFORMANCE.md, item 63).
    const buffer = p.pInputBuffer;
    const input =
      buffer instanceof Uint8Array
        ? buffer.length === p.InputBufferLength
          ? buffer
          : buffer.subarray(0, p.InputBufferLength)
        : NO_INPUT;
    const canWait = (ctx.Flags & RX_CONTEXT_FLAG.RX_CONTEXT_FLAG_WAIT) !== 0;
    const c = this.codes;
    switch (p.FsControlCode) {
      case c.START: {
        const st = await this.rx.RxStartMinirdr(ctx);
        // RxStartMinirdr asks to be posted to the file-system process; RDBSS re-runs this request there.
        return st === S.STATUS_PENDING && ctx.PostRequest ? S.STATUS_MORE_PROCESSING_REQUIRED : st;
      }
      case c.STOP: {
        if (this.device && this.device.NumberOfActiveFcbs > 0) return S.STATUS_REDIRECTOR_HAS_OPEN_HANDLES;
        const st = await this.rx.RxStopMinirdr(ctx);
        return st === S.STATUS_PENDING && ctx.PostRequest ? S.STATUS_MORE_PROCESSING_REQUIRED : st;
      }
      case c.ADDCONN: {
        if (!canWait) {
          ctx.PostRequest = true;
          return S.STATUS_MORE_PROCESSING_REQUIRED;
        }
        const [name = "", user, password] = fromUtf16(input).split("\0");
        if (!name.startsWith("\\;") || name.indexOf("\\", 2) < 0) return S.STATUS_BAD_NETWORK_NAME;
        const eas = user
          ? [
              { EaName: "UserName", EaValue: UTF8.encode(user) },
              { EaName: "Password", EaValue: UTF8.encode(password ?? "") },
            ]
          : undefined;
        const r = await this.openTreeConnect(name, eas);
        if (!NT_SUCCESS(r.Status)) return r.Status;
        await this.zw.ZwClose(r.FileHandle);
        const letter = name.slice(2, name.indexOf(":"));
        if (letter) this.localConnections.set(letter.toUpperCase(), name.slice(name.indexOf("\\", 2)));
        return S.STATUS_SUCCESS;
      }
      case c.DELCONN: {
        if (!canWait) {
          ctx.PostRequest = true;
          return S.STATUS_MORE_PROCESSING_REQUIRED;
        }
        const level = input[0] ?? 0;
        const name = fromUtf16(input, 1).replace(/\0+$/, "");
        const r = await this.openTreeConnect(name);
        if (!NT_SUCCESS(r.Status)) return r.Status;
        const ref = this.zw.ObReferenceObjectByHandle(r.FileHandle, "KernelMode");
        let status: NTSTATUS = S.STATUS_BAD_NETWORK_NAME;
        const fs2 = ref.object?.FsContext2 as V_NET_ROOT | null | undefined;
        if (ref.object && fs2 && fs2.kind === "V_NET_ROOT") {
          status = await this.rx.RxFinalizeConnection(
            fs2.pNetRoot as NET_ROOT,
            fs2,
            level === 1 ? true : level === 0 ? false : level,
          );
        }
        if (ref.object) await this.rx.sys.io.ObDereferenceObject(ref.object);
        await this.zw.ZwClose(r.FileHandle);
        if (NT_SUCCESS(status)) {
          const letter = name.slice(2, name.indexOf(":"));
          if (letter) this.localConnections.delete(letter.toUpperCase());
        }
        return status;
      }
      case c.GETLIST: {
        const out = p.pOutputBuffer;
        if (!out || p.OutputBufferLength < 26) return S.STATUS_BUFFER_TOO_SMALL;
        out.fill(0, 0, 26);
        for (const l of this.localConnections.keys()) out[l.charCodeAt(0) - 65] = 1;
        ctx.InformationToReturn = 26;
        return S.STATUS_SUCCESS;
      }
      case c.GETCONN: {
        const letter = fromUtf16(input).replace(/\0+$/, "").toUpperCase();
        const remote = this.localConnections.get(letter);
        if (remote === undefined) return S.STATUS_NO_SUCH_FILE;
        const bytes = utf16(remote);
        const out = p.pOutputBuffer;
        if (!out || p.OutputBufferLength < bytes.length) return S.STATUS_BUFFER_TOO_SMALL;
        out.set(bytes);
        ctx.InformationToReturn = bytes.length;
        return S.STATUS_SUCCESS;
      }
      default:
        return undefined;
    }
  }

  private openTreeConnect(name: string, eas?: { EaName: string; EaValue: Uint8Array }[]): Promise<NtCreateFileResult> {
    return this.zw.ZwCreateFile({
      ObjectName: this.deviceName + name,
      DesiredAccess: 0x100000,
      ShareAccess: 7,
      CreateDisposition: FILE_OPEN_IF,
      CreateOptions: FILE_CREATE_TREE_CONNECTION,
      ...(eas ? { EaBuffer: eas } : {}),
    });
  }
}

/**
 * Arm (or disarm with null) a mini-redirector cancel routine. RxSetMinirdrCancelRoutine where RDBSS has it; under
 * the ReactOS profile, which lacks it, the field is set directly after the same cancelled check.
 */
export function armCancelRoutine(rx: Rdbss, ctx: RX_CONTEXT, routine: RX_CONTEXT["MRxCancelRoutine"]): NTSTATUS {
  if (rx.profile.docsOnlyRoutines === "available") return rx.RxSetMinirdrCancelRoutine(ctx, routine);
  if (ctx.Flags & RX_CONTEXT_FLAG.RX_CONTEXT_FLAG_CANCELLED) return S.STATUS_CANCELLED;
  ctx.MRxCancelRoutine = routine;
  return S.STATUS_SUCCESS;
}

/** MRxExtractNetRootName for "\server\share\rest": the NET_ROOT "\server\share" and the rest after it. */
export function extractServerShareNetRoot(path: string): { NetRootName: string; RestOfName: string } {
  const netRoot = path.split("\\").slice(0, 3).join("\\");
  return { NetRootName: netRoot, RestOfName: path.slice(netRoot.length) };
}

/** What a sample mini-redirector keeps of its registration with RDBSS. */
export interface RegisteredMiniRdr<X extends MiniRdrExtensions> {
  device: RDBSS_DEVICE_OBJECT<X> | null;
  /** What RxUnregisterMinirdr found still alive at unload; null before the driver is unloaded. */
  leftAtUnload: string[] | null;
  readonly control: ConnectionControlPlane;
}

/**
 * The end of the samples' DriverEntry, after RxRegisterMinirdr: keep the device (the control plane answers on it)
 * and install a DriverUnload that unregisters — RDBSS force-finalizes what is left and reports it, a leak at unload.
 */
export function finishDriverEntry<X extends MiniRdrExtensions>(
  rx: Rdbss,
  driver: DRIVER_OBJECT,
  self: RegisteredMiniRdr<X>,
  registered: {
    readonly status: NTSTATUS;
    readonly device: RDBSS_DEVICE_OBJECT<X> | null;
    readonly errors: readonly string[];
  },
): NTSTATUS {
  const device = registered.device;
  if (!device) throw new Error(`RxRegisterMinirdr failed: ${registered.errors.join("; ")}`);
  self.device = device;
  self.control.device = device as unknown as RDBSS_DEVICE_OBJECT;
  // A local, not `driver.DriverUnload = async () => …`: see KernelCore.createThread on V8 pretenuring.
  const unload = async (): Promise<void> => {
    self.leftAtUnload = await rx.RxUnregisterMinirdr(device as unknown as RDBSS_DEVICE_OBJECT);
  };
  driver.DriverUnload = unload;
  return registered.status;
}
