/**
 * Cold start, run in a fresh child process by the suite: import the emulator, boot it, load and START memsmb,
 * net use, and complete the first create. Prints one JSON line with in-process timings (ms since this module
 * started evaluating); the suite times the whole process from outside.
 */
const t0 = performance.now();
const { FILE_OPEN_IF, FILE_SYNCHRONOUS_IO_NONALERT, GENERIC_READ, GENERIC_WRITE, SYNCHRONIZE } = await import(
  "../../emulator/io/index.js"
);
const { memsmbWorld, must, onThread } = await import("./world.js");
const tImport = performance.now();
const w = await memsmbWorld();
const tBoot = performance.now();
await onThread(w, "first create", async () => {
  must("net use", await w.mrx.provider.netUse("X", "\\\\srv\\share"));
  const h = await w.em.sys.nt.NtCreateFile({
    ObjectName: "\\??\\X:\\first.txt",
    DesiredAccess: GENERIC_READ | GENERIC_WRITE | SYNCHRONIZE,
    ShareAccess: 7,
    CreateDisposition: FILE_OPEN_IF,
    CreateOptions: FILE_SYNCHRONOUS_IO_NONALERT,
  });
  must("create", h.Status);
});
const tCreate = performance.now();
process.stdout.write(
  `${JSON.stringify({ processStartToModuleMs: t0, importMs: tImport - t0, bootAndStartMs: tBoot - tImport, firstCreateMs: tCreate - tBoot, totalSinceProcessStartMs: tCreate })}\n`,
);
