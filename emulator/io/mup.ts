/**
 * MUP, the multiple UNC provider: opens of \??\UNC\server\share\… and \Device\Mup\server\share\… are
 * resolved by asking each registered redirector (FsRtlRegisterUncProvider) with IOCTL_REDIR_QUERY_PATH, in
 * registration order; the first one that accepts claims the prefix it accepted, which is cached, and the open is
 * reparsed to that redirector's device. When none accepts, the open fails with the most significant of their
 * failures (MupOrderedErrorList): STATUS_BAD_NETWORK_PATH unless a provider reported something more specific than
 * the list's generic failures (a logon failure, access denied).
 */
import { KEVENT, type NTSTATUS, STATUS } from "../kernel/index.js";
import {
  FILE_DEVICE_MULTI_UNC_PROVIDER,
  IO_REPARSE,
  IOCTL_REDIR_QUERY_PATH,
  IRP_MJ_CLEANUP,
  IRP_MJ_CLOSE,
  IRP_MJ_CREATE,
  type QUERY_PATH_REQUEST,
  type QUERY_PATH_RESPONSE,
} from "./constants.js";
import type { IoManager } from "./iomgr.js";
import { IO_STATUS_BLOCK, type IRP } from "./irp.js";
import type { DEVICE_OBJECT, DRIVER_OBJECT } from "./objects.js";

/**
 * ReactOS mup.c's MupOrderedErrorList: generic query-path failures, least significant first. A failure that is
 * not in the list (STATUS_LOGON_FAILURE, STATUS_ACCESS_DENIED …) is more significant than all of them. The search
 * starts from STATUS_BAD_NETWORK_PATH, so STATUS_BAD_NETWORK_NAME and the ones before it never surface.
 */
const MUP_ORDERED_ERRORS: readonly NTSTATUS[] = [
  STATUS.STATUS_UNSUCCESSFUL,
  STATUS.STATUS_INVALID_PARAMETER,
  STATUS.STATUS_REDIRECTOR_NOT_STARTED,
  STATUS.STATUS_BAD_NETWORK_NAME,
  STATUS.STATUS_BAD_NETWORK_PATH,
];

/** QueryPathCompletionRoutine's choice between the failure kept so far and a new one. */
function moreSignificantFailure(latest: NTSTATUS, status: NTSTATUS): NTSTATUS {
  const latestPos = MUP_ORDERED_ERRORS.indexOf(latest);
  if (latestPos === 0) return status;
  const pos = MUP_ORDERED_ERRORS.indexOf(status);
  return pos < 0 || latestPos < 0 || pos >= latestPos ? status : latest;
}

export interface UncProvider {
  readonly handle: number;
  readonly deviceName: string;
  readonly mailslotsSupported: boolean;
}

export class Mup {
  readonly io: IoManager;
  device: DEVICE_OBJECT | null = null;
  driver: DRIVER_OBJECT | null = null;
  private readonly providers: UncProvider[] = [];
  /** Upper-cased claimed prefix ("\SERVER\SHARE") → provider device name. */
  readonly prefixCache = new Map<string, string>();
  private nextHandle = 1;
  /** How many IOCTL_REDIR_QUERY_PATH requests were sent (tests read it to see the cache at work). */
  queries = 0;

  constructor(io: IoManager) {
    this.io = io;
  }

  /** Load the MUP driver: \Device\Mup and the \??\UNC link. Call from an emulated thread. */
  async start(): Promise<NTSTATUS> {
    const { status } = await this.io.IoCreateDriver("\\FileSystem\\Mup", (driver) => {
      this.driver = driver;
      const { status: s, device } = this.io.IoCreateDevice(
        driver,
        this,
        "\\Device\\Mup",
        FILE_DEVICE_MULTI_UNC_PROVIDER,
      );
      if (device === null) return s;
      this.device = device;
      // Through locals, not `MajorFunction[…] = (…) => …`: see KernelCore.createThread on V8 pretenuring such closures.
      const create = (dev: DEVICE_OBJECT, irp: IRP): Promise<NTSTATUS> | NTSTATUS => this.create(dev, irp);
      const succeed = (_dev: DEVICE_OBJECT, irp: IRP): NTSTATUS => this.completeNow(irp, STATUS.STATUS_SUCCESS);
      driver.MajorFunction[IRP_MJ_CREATE] = create;
      driver.MajorFunction[IRP_MJ_CLEANUP] = succeed;
      driver.MajorFunction[IRP_MJ_CLOSE] = succeed;
      this.io.IoCreateSymbolicLink("\\??\\UNC", "\\Device\\Mup");
      this.io.IoCreateSymbolicLink("\\DosDevices\\UNC", "\\Device\\Mup");
      return STATUS.STATUS_SUCCESS;
    });
    return status;
  }

  /** FsRtlRegisterUncProvider: returns the MUP handle the redirector later deregisters with. */
  FsRtlRegisterUncProvider(deviceName: string, mailslotsSupported = false): { status: NTSTATUS; handle: number } {
    if (this.providers.some((p) => p.deviceName.toUpperCase() === deviceName.toUpperCase())) {
      return { status: STATUS.STATUS_OBJECT_NAME_COLLISION, handle: 0 };
    }
    const handle = this.nextHandle++;
    this.providers.push({ handle, deviceName, mailslotsSupported });
    return { status: STATUS.STATUS_SUCCESS, handle };
  }

  FsRtlDeregisterUncProvider(handle: number): void {
    const i = this.providers.findIndex((p) => p.handle === handle);
    if (i < 0) return;
    const [p] = this.providers.splice(i, 1);
    for (const [prefix, dev] of [...this.prefixCache]) if (dev === p?.deviceName) this.prefixCache.delete(prefix);
  }

  get registeredProviders(): readonly UncProvider[] {
    return this.providers;
  }

  /** Forget cached prefixes (all, or those under one provider). */
  flushPrefixCache(deviceName?: string): void {
    for (const [prefix, dev] of [...this.prefixCache]) {
      if (deviceName === undefined || dev.toUpperCase() === deviceName.toUpperCase()) this.prefixCache.delete(prefix);
    }
  }

  private completeNow(irp: IRP, status: NTSTATUS): NTSTATUS {
    irp.IoStatus.Status = status;
    irp.IoStatus.Information = 0;
    this.io.IoCompleteRequest(irp);
    return status;
  }

  private async create(_dev: DEVICE_OBJECT, irp: IRP): Promise<NTSTATUS> {
    const sp = this.io.IoGetCurrentIrpStackLocation(irp);
    const fo = sp.FileObject;
    if (fo === null) return this.completeNow(irp, STATUS.STATUS_INVALID_PARAMETER);
    const name = fo.FileName;
    if (name === "" || name === "\\") return this.completeNow(irp, STATUS.STATUS_SUCCESS);
    if (!name.startsWith("\\") || name.startsWith("\\\\"))
      return this.completeNow(irp, STATUS.STATUS_OBJECT_NAME_INVALID);
    let provider = this.lookupCache(name);
    if (provider === undefined) {
      const q = await this.queryProviders(name, sp.Parameters.SecurityContext);
      if (typeof q === "number") return this.completeNow(irp, q);
      provider = q;
    }
    fo.FileName = provider + name;
    irp.IoStatus.Status = STATUS.STATUS_REPARSE;
    irp.IoStatus.Information = IO_REPARSE;
    this.io.IoCompleteRequest(irp);
    return STATUS.STATUS_REPARSE;
  }

  private lookupCache(name: string): string | undefined {
    const upper = name.toUpperCase();
    let best: string | undefined;
    let bestLen = -1;
    for (const [prefix, dev] of this.prefixCache) {
      if (
        prefix.length > bestLen &&
        upper.startsWith(prefix) &&
        (upper.length === prefix.length || upper[prefix.length] === "\\")
      ) {
        best = dev;
        bestLen = prefix.length;
      }
    }
    return best;
  }

  /** The device name of the provider that accepted, or the most significant failure. */
  private async queryProviders(name: string, securityContext: unknown): Promise<string | NTSTATUS> {
    let failure: NTSTATUS = STATUS.STATUS_BAD_NETWORK_PATH;
    for (const p of [...this.providers]) {
      const entry = this.io.lookupName(p.deviceName);
      if (entry?.kind !== "device") continue;
      const request: QUERY_PATH_REQUEST = {
        PathNameLength: name.length * 2,
        SecurityContext: securityContext,
        FilePathName: name,
      };
      const response: QUERY_PATH_RESPONSE = { LengthAccepted: 0 };
      const iosb = new IO_STATUS_BLOCK();
      const ev = new KEVENT(0, false, `query path ${p.deviceName}`);
      const irp = this.io.IoBuildDeviceIoControlRequest(
        IOCTL_REDIR_QUERY_PATH,
        entry.device,
        request,
        0,
        response,
        0,
        false,
        ev,
        iosb,
      );
      this.queries++;
      const top = this.io.IoGetAttachedDevice(entry.device);
      const s = await this.io.IoCallDriver(top, irp);
      this.io.topLevelReturned(irp, s);
      if (s === STATUS.STATUS_PENDING || !irp.completed) await this.io.k.KeWaitForSingleObject(ev);
      if ((iosb.Status | 0) >= 0 && response.LengthAccepted > 0) {
        const accepted = name.slice(0, Math.min(name.length, Math.floor(response.LengthAccepted / 2)));
        this.prefixCache.set(accepted.toUpperCase(), p.deviceName);
        return p.deviceName;
      }
      failure = moreSignificantFailure(failure, (iosb.Status | 0) >= 0 ? STATUS.STATUS_BAD_NETWORK_PATH : iosb.Status);
    }
    return failure;
  }
}
