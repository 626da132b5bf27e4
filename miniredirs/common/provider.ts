/**
 * A mini-redirector's network provider: what the user-mode provider DLL does for "net use". It talks to the
 * driver through the control-plane IOCTLs on its device and defines the drive-letter links. Call its methods from
 * an emulated thread (they are what `net use` does in the calling process).
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
import { type ControlCodes, fromUtf16, utf16 } from "./control.js";

export interface NetUseEntry {
  readonly local: string;
  readonly remote: string;
}

export class NetworkProvider {
  readonly em: Emulator;
  readonly deviceName: string;
  readonly codes: ControlCodes;

  constructor(em: Emulator, deviceName: string, codes: ControlCodes) {
    this.em = em;
    this.deviceName = deviceName;
    this.codes = codes;
  }

  /** Send one control IOCTL to the device (opened and closed around the call). */
  async control(
    code: number,
    input: Uint8Array = new Uint8Array(0),
    outputLength = 0,
  ): Promise<{ Status: NTSTATUS; Output: Uint8Array | null; Information: number }> {
    const nt = this.em.sys.nt;
    const h = await nt.NtCreateFile({
      ObjectName: this.deviceName,
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
    return this.control(this.codes.START).then((r) => r.Status);
  }

  stop(): Promise<NTSTATUS> {
    return this.control(this.codes.STOP).then((r) => r.Status);
  }

  /** net use X: \\server\share [/user:u password] */
  async netUse(letter: string, remote: string, user?: string, password?: string): Promise<NTSTATUS> {
    const L = letter.toUpperCase().replace(/:$/, "");
    if (!/^[A-Z]$/.test(L)) return STATUS.STATUS_INVALID_PARAMETER;
    if (this.em.sys.io.lookupName(`\\??\\${L}:`)) return STATUS.STATUS_OBJECT_NAME_COLLISION;
    const unc = remote.replace(/^\\\\/, "\\");
    const name = `\\;${L}:0${unc}`;
    const input = utf16(user ? `${name}\0${user}\0${password ?? ""}` : name);
    const r = await this.control(this.codes.ADDCONN, input);
    if (!NT_SUCCESS(r.Status)) return r.Status;
    const link = this.em.sys.io.IoCreateSymbolicLink(`\\??\\${L}:`, `${this.deviceName}${name}`);
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
    if (entry?.kind !== "symlink" || !entry.target.toUpperCase().startsWith(this.deviceName.toUpperCase())) {
      return STATUS.STATUS_NO_SUCH_FILE;
    }
    const name = entry.target.slice(this.deviceName.length);
    const input = new Uint8Array(1 + name.length * 2);
    input[0] = force & 0xff;
    input.set(utf16(name), 1);
    const r = await this.control(this.codes.DELCONN, input);
    if (NT_SUCCESS(r.Status)) this.em.sys.io.IoDeleteSymbolicLink(`\\??\\${L}:`);
    return r.Status;
  }

  /** net use (list): GETLIST then GETCONN for each letter. */
  async list(): Promise<NetUseEntry[]> {
    const r = await this.control(this.codes.GETLIST, new Uint8Array(0), 26);
    if (!NT_SUCCESS(r.Status) || !r.Output) return [];
    const out: NetUseEntry[] = [];
    for (let i = 0; i < 26; i++) {
      if (!r.Output[i]) continue;
      const letter = String.fromCharCode(65 + i);
      const c = await this.control(this.codes.GETCONN, utf16(letter), 512);
      if (NT_SUCCESS(c.Status) && c.Output)
        out.push({ local: `${letter}:`, remote: `\\${fromUtf16(c.Output, 0, c.Information)}` });
    }
    return out;
  }
}
