// Cold start from the built package, run in a fresh child process by the suite (scripts/bench/suite.ts):
// import `rdbss-emulator/core` as built by scripts/build.mjs (dist/core.mjs, or the build directory given as the
// first argument), boot the emulator, load and START memsmb, net use, and complete the first create — what a
// user's process that embeds the emulator pays before its first IRP. Plain JavaScript, so no TypeScript loader
// is involved. Prints one JSON line with in-process timings (ms); the suite times the whole process from outside.
const t0 = performance.now();
const dist = process.argv[2] ?? new URL("../../dist", import.meta.url).pathname;
const { bootEmulator, createEmulator, inSystemThread, io, memsmbModule, NT_SUCCESS, statusName } = await import(
  `${dist}/core.mjs`
);
const tImport = performance.now();

const must = (what, st) => {
  if (!NT_SUCCESS(st)) throw new Error(`${what}: ${statusName(st)}`);
};
const em = createEmulator({ seed: 1 });
const boot = await bootEmulator(em);
if (boot.stop) throw new Error(boot.stop.format());
const loaded = await inSystemThread(em, "DriverEntry memsmb", () =>
  memsmbModule.load(em, {
    servers: [
      {
        name: "srv",
        users: [{ name: "guest", password: "" }],
        shares: [{ name: "share", permissions: { "*": "full" } }],
      },
    ],
  }),
);
if (loaded.run.stop || !loaded.value) throw new Error(loaded.run.stop?.format() ?? "memsmb did not load");
const mrx = loaded.value;
must("DriverEntry", mrx.status);
const user = em.k.createProcess("cold.exe");

/** Run fn on a thread of the user process until the kernel is idle. */
async function onThread(name, fn) {
  let failed = null;
  let done = false;
  em.k.createThread(user, name, async () => {
    try {
      await fn();
      done = true;
    } catch (e) {
      failed = e;
    }
  });
  const r = await em.k.run();
  if (r.stop) throw new Error(r.stop.format());
  if (failed !== null) throw failed;
  if (!done) throw new Error(`${name} did not finish`);
}

await onThread("START", async () => must("START", await mrx.provider.start()));
const tBoot = performance.now();
await onThread("first create", async () => {
  must("net use", await mrx.provider.netUse("X", "\\\\srv\\share"));
  const h = await em.sys.nt.NtCreateFile({
    ObjectName: "\\??\\X:\\first.txt",
    DesiredAccess: io.GENERIC_READ | io.GENERIC_WRITE | io.SYNCHRONIZE,
    ShareAccess: 7,
    CreateDisposition: io.FILE_OPEN_IF,
    CreateOptions: io.FILE_SYNCHRONOUS_IO_NONALERT,
  });
  must("create", h.Status);
});
const tCreate = performance.now();
process.stdout.write(
  `${JSON.stringify({ processStartToModuleMs: t0, importMs: tImport - t0, bootAndStartMs: tBoot - tImport, firstCreateMs: tCreate - tBoot, totalSinceProcessStartMs: tCreate })}\n`,
);
