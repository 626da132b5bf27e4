/**
 * HelloMrx, the minimal mini-redirector of docs/WRITING-A-MINIRDR.md section 11, as a user would write it outside
 * this repository: one flat share \\hello\world, synchronous reads and writes. test/scenario/custom-minirdr.test.ts
 * runs it under scenarios.
 */

// Through the package entry, as a user's own mini-redirector imports it ("rdbss-emulator/core").
import { ConnectionControlPlane } from "../../emulator/core.js";
import {
  CTL_CODE,
  type DRIVER_OBJECT,
  FILE_ANY_ACCESS,
  FILE_CREATE,
  FILE_CREATED,
  FILE_DEVICE_NETWORK_FILE_SYSTEM,
  FILE_OPEN,
  FILE_OPENED,
  FILE_REMOTE_DEVICE,
  METHOD_BUFFERED,
} from "../../emulator/io/index.js";
import { type NTSTATUS, STATUS, WorkQueueType } from "../../emulator/kernel/index.js";
import {
  type FOBX,
  type MINIRDR_DISPATCH,
  type MRX_CREATENETROOT_CONTEXT,
  type MRX_FCB,
  type MRX_SRV_CALL,
  type MRX_SRVCALL_CALLBACK_CONTEXT,
  NodeType,
  type RDBSS_DEVICE_OBJECT,
  RDBSS_MANAGE,
  type Rdbss,
  type RX_CONTEXT,
  RX_REGISTERMINI_FLAG,
  type SRV_OPEN,
} from "../../emulator/rdbss/index.js";

const S = STATUS;
const ctl = (n: number) => CTL_CODE(FILE_DEVICE_NETWORK_FILE_SYSTEM, n, METHOD_BUFFERED, FILE_ANY_ACCESS);
export const IOCTL_HELLO = {
  START: ctl(0x800),
  STOP: ctl(0x801),
  ADDCONN: ctl(0x802),
  DELCONN: ctl(0x803),
  GETLIST: ctl(0x804),
  GETCONN: ctl(0x805),
};
export const HELLO_DEVICE_NAME = "\\Device\\HelloMrx";

/** Per-structure state, typed: RDBSS creates `Fcb` for us because MRxFlags asks it to. */
interface HelloExtensions {
  Fcb: { file: { data: Uint8Array } | null };
}

export class HelloMrx implements MINIRDR_DISPATCH<HelloExtensions> {
  readonly rx: Rdbss;
  readonly files = new Map<string, { data: Uint8Array }>(); // the "server": one flat share
  readonly control: ConnectionControlPlane;
  device: RDBSS_DEVICE_OBJECT<HelloExtensions> | null = null;

  readonly MRxFlags = RDBSS_MANAGE.RDBSS_MANAGE_FCB_EXTENSION;
  readonly MRxFcbExtension = (): HelloExtensions["Fcb"] => ({ file: null });
  readonly MRxLowIOSubmit: MINIRDR_DISPATCH<HelloExtensions>["MRxLowIOSubmit"] = [
    (ctx) => this.read(ctx), // LOWIO_OP_READ
    (ctx) => this.write(ctx), // LOWIO_OP_WRITE
  ];

  constructor(rx: Rdbss) {
    this.rx = rx;
    this.control = new ConnectionControlPlane(rx, HELLO_DEVICE_NAME, IOCTL_HELLO);
  }

  async DriverEntry(driver: DRIVER_OBJECT): Promise<NTSTATUS> {
    const r = this.rx.RxRegisterMinirdr(
      driver,
      this,
      RX_REGISTERMINI_FLAG.RX_REGISTERMINI_FLAG_DONT_PROVIDE_UNCS |
        RX_REGISTERMINI_FLAG.RX_REGISTERMINI_FLAG_DONT_PROVIDE_MAILSLOTS,
      HELLO_DEVICE_NAME,
      FILE_DEVICE_NETWORK_FILE_SYSTEM,
      FILE_REMOTE_DEVICE,
      "hellomrx",
    );
    if (!r.device) throw new Error(r.errors.join("; "));
    this.device = r.device;
    this.control.device = r.device as unknown as RDBSS_DEVICE_OBJECT;
    return r.status;
  }

  MRxStart(): NTSTATUS {
    return S.STATUS_SUCCESS;
  }
  MRxStop(): NTSTATUS {
    return S.STATUS_SUCCESS;
  }
  async MRxDevFcbXXXControlFile(ctx: RX_CONTEXT<HelloExtensions>): Promise<NTSTATUS> {
    return (await this.control.handle(ctx as RX_CONTEXT)) ?? S.STATUS_INVALID_DEVICE_REQUEST;
  }

  // ---- the connection engine: STATUS_PENDING, one callback, work done in the RDBSS process
  MRxCreateSrvCall(
    srvCall: MRX_SRV_CALL<HelloExtensions>,
    cb: MRX_SRVCALL_CALLBACK_CONTEXT<HelloExtensions>,
  ): NTSTATUS {
    const connect = (): void => {
      cb.Status = S.STATUS_SUCCESS; // a real transport would connect to srvCall.pSrvCallName here
      cb.SrvCalldownStructure.CallBack(cb);
    };
    if (this.rx.k.IoGetCurrentProcess() === this.rx.RxGetRDBSSProcess()) connect();
    else {
      const st = this.rx.RxDispatchToWorkerThread(
        this.device as unknown as RDBSS_DEVICE_OBJECT,
        WorkQueueType.DelayedWorkQueue,
        connect,
        srvCall,
      );
      if (st !== S.STATUS_SUCCESS) {
        cb.Status = st;
        cb.SrvCalldownStructure.CallBack(cb);
      }
    }
    return S.STATUS_PENDING;
  }
  MRxFinalizeSrvCall(srvCall: MRX_SRV_CALL<HelloExtensions>): NTSTATUS {
    srvCall.Context = null;
    srvCall.Context2 = null;
    return S.STATUS_SUCCESS;
  }
  MRxCreateVNetRoot(cnc: MRX_CREATENETROOT_CONTEXT<HelloExtensions>): NTSTATUS {
    const ok = cnc.pVNetRoot.pNetRoot.pNetRootName.toLowerCase().endsWith("\\world");
    cnc.NetRootStatus = ok ? S.STATUS_SUCCESS : S.STATUS_BAD_NETWORK_NAME;
    cnc.VirtualNetRootStatus = cnc.NetRootStatus;
    cnc.Callback(cnc);
    return S.STATUS_PENDING;
  }
  MRxExtractNetRootName(path: string): { NetRootName: string; RestOfName: string } {
    const netRoot = path.split("\\").slice(0, 3).join("\\"); // "\server\share"
    return { NetRootName: netRoot, RestOfName: path.slice(netRoot.length) };
  }

  // ---- opens
  MRxCreate(ctx: RX_CONTEXT<HelloExtensions>): NTSTATUS {
    const fcb = ctx.pFcb as MRX_FCB<HelloExtensions>;
    const name = ctx.Create.RemainingName.toUpperCase();
    const disposition = ctx.Create.NtCreateParameters.Disposition;
    let file = this.files.get(name);
    let info: number = FILE_OPENED;
    if (!file) {
      if (disposition === FILE_OPEN) return S.STATUS_OBJECT_NAME_NOT_FOUND;
      file = { data: new Uint8Array(0) };
      this.files.set(name, file);
      info = FILE_CREATED;
    } else if (disposition === FILE_CREATE) return S.STATUS_OBJECT_NAME_COLLISION;
    const ext = fcb.Context as HelloExtensions["Fcb"];
    if (!fcb.fMiniInited) {
      ext.file = file;
      this.rx.RxFinishFcbInitialization(fcb as never, NodeType.RDBSS_NTC_STORAGE_TYPE_FILE, {
        EndOfFile: file.data.length,
      });
      fcb.fMiniInited = true;
    }
    ctx.pFobx = this.rx.RxCreateNetFobx(ctx as RX_CONTEXT, ctx.pRelevantSrvOpen as SRV_OPEN) as FOBX<HelloExtensions>;
    ctx.Create.ReturnedCreateInformation = info;
    // The "docs" profile's must-set; the "reactos" profile forbids touching the IRP (section 5).
    if (ctx.CurrentIrp && this.rx.profile.createInformation === "must-set") ctx.CurrentIrp.IoStatus.Information = info;
    return S.STATUS_SUCCESS;
  }
  MRxDeallocateForFcb(fcb: MRX_FCB<HelloExtensions>): NTSTATUS {
    (fcb.Context as HelloExtensions["Fcb"]).file = null;
    fcb.fMiniInited = false;
    return S.STATUS_SUCCESS;
  }

  // ---- LowIo, synchronous
  private fileOf(ctx: RX_CONTEXT<HelloExtensions>): { data: Uint8Array } | null {
    return (ctx.pFcb?.Context as HelloExtensions["Fcb"] | undefined)?.file ?? null;
  }
  private read(ctx: RX_CONTEXT<HelloExtensions>): NTSTATUS {
    const p = ctx.LowIoContext.ParamsFor.ReadWrite;
    const file = this.fileOf(ctx);
    if (!file || !p.Buffer) return S.STATUS_INVALID_DEVICE_REQUEST;
    if (p.ByteOffset >= file.data.length) return S.STATUS_END_OF_FILE;
    const bytes = file.data.subarray(p.ByteOffset, p.ByteOffset + p.ByteCount);
    p.Buffer.set(bytes);
    ctx.IoStatusBlock.Information = bytes.length;
    return S.STATUS_SUCCESS;
  }
  private write(ctx: RX_CONTEXT<HelloExtensions>): NTSTATUS {
    const p = ctx.LowIoContext.ParamsFor.ReadWrite;
    const file = this.fileOf(ctx);
    if (!file || !p.Buffer) return S.STATUS_INVALID_DEVICE_REQUEST;
    const end = p.ByteOffset + p.ByteCount;
    if (end > file.data.length) {
      const grown = new Uint8Array(end);
      grown.set(file.data);
      file.data = grown;
    }
    file.data.set(p.Buffer.subarray(0, p.ByteCount), p.ByteOffset);
    ctx.IoStatusBlock.Information = p.ByteCount;
    return S.STATUS_SUCCESS;
  }
}
