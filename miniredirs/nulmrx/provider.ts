/**
 * nulmrx's network provider: what the user-mode provider DLL does for "net use". It talks to the driver through
 * IOCTLs on \Device\NulMRx and defines the drive-letter links. Call its methods from an emulated thread.
 */
import type { Emulator } from "../../emulator/boot.js";
import {
  FILE_OPEN,
  FILE_SYNCHRONOUS_IO_NONALERT,
  GENERIC_READ,
  GENERIC_WRITE,
  SYNCHRONIZE,
} from "../../emulator/io/index.js";
import { NT_SUCCESS, type NTSTATUS, STATUS } from "../../emulator/kernel/index.js";
import { IOCTL_NULMRX, NULMRX_DEVICE_NAME } from "./nulmrx.js";

const enc16 = (s: string): Uint8Array => {
  const b = new Uint8Array(s.length * 2);
  for (let i = 0; i < s.length; i++) {
    b[i * 2] = s.charCodeAt(i) & 0xff;
    b[i * 2 + 1] = s.charCodeAt(i) >> 8;
  }
  return b;
};

export class NulNetworkProvider {
  readonly em: Emulator;
  constructor(em: Emulator) {
    this.em = em;
  }

  /** Send one control IOCTL to the device (opened and closed around the call). */
  async control(
    code: number,
    input: Uint8Array = new Uint8Array(0),
    outputLength = 0,
  ): Promise<{ Status: NTSTATUS; Output: Uint8Array | null; Information: number }> {
    const nt = this.em.sys.nt;
    const h = await nt.NtCreateFile({
      ObjectName: NULMRX_DEVICE_NAME,
      DesiredAccess: GENERIC_READ | GENERIC_WRITE | SYNCHRONIZE,
      ShareAccess: 7,
      CreateDisposition: FILE_OPEN,
      CreateOptions: FILE_SYNCHRONOUS_IO_NONALERT,
    });
    if (!NT_SUCCESS(h.Status)) return { Status: h.Status, Output: null, Information: 0 };
    const r = await nt.NtDeviceIoControlFile(h.FileHandle, code, {
      InputBuffer: input,
      OutputBufferLength: outputLength,
    });
    await nt.NtClose(h.FileHandle);
    return { Status: r.Status, Output: r.OutputBuffer, Information: r.Information };
  }

  start(): Promise<NTSTATUS> {
    return this.control(IOCTL_NULMRX.START).then((r) => r.Status);
  }

  stop(): Promise<NTSTATUS> {
    return this.control(IOCTL_NULMRX.STOP).then((r) => r.Status);
  }

  /** net use X: \\server\share [/user:u password] */
  async netUse(letter: string, remote: string, user?: string, password?: string): Promise<NTSTATUS> {
    const L = letter.toUpperCase().replace(/:$/, "");
    const unc = remote.replace(/^\\\\/, "\\");
    const name = `\\;${L}:0${unc}`;
    const input = enc16(user ? `${name}\0${user}\0${password ?? ""}` : name);
    const r = await this.control(IOCTL_NULMRX.ADDCONN, input);
    if (!NT_SUCCESS(r.Status)) return r.Status;
    const link = this.em.sys.io.IoCreateSymbolicLink(`\\??\\${L}:`, `${NULMRX_DEVICE_NAME}${name}`);
    if (!NT_SUCCESS(link)) {
      await this.netUseDelete(L, 1);
      return link;
    }
    return STATUS.STATUS_SUCCESS;
  }

  /** net use X: /delete — force: 0 (FALSE), 1 (TRUE) or 0xff. */
  async netUseDelete(letter: string, force: number): Promise<NTSTATUS> {
    const L = letter.toUpperCase().replace(/:$/, "");
    const entry = this.em.sys.io.lookupName(`\\??\\${L}:`);
    if (entry?.kind !== "symlink") return STATUS.STATUS_NO_SUCH_FILE;
    const name = entry.target.slice(NULMRX_DEVICE_NAME.length);
    const input = new Uint8Array(1 + name.length * 2);
    input[0] = force & 0xff;
    input.set(enc16(name), 1);
    const r = await this.control(IOCTL_NULMRX.DELCONN, input);
    if (NT_SUCCESS(r.Status)) this.em.sys.io.IoDeleteSymbolicLink(`\\??\\${L}:`);
    return r.Status;
  }
}
