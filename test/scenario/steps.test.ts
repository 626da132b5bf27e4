/**
 * Every step kind, run on memsmb (and nulmrx where it differs), with its expectations checked by the runner.
 */
import test from "ava";
import { failedWith, passed, run, stepsOf } from "./_run.js";

const NET_USE = `  - op: net-use
    drive: X
    remote: \\\\srv\\share
`;

test("net-use, net-list, net-use-delete; credentials and a wrong password", async (t) => {
  const r = await run(`name: net use
steps:
${NET_USE}  - op: net-use
    drive: Y
    remote: \\\\srv\\public
    user: alice
    password: secret
  - op: net-use
    drive: Z
    remote: \\\\srv\\share
    user: alice
    password: wrong
    expect: STATUS_LOGON_FAILURE
  - op: net-list
    expect:
      connections:
        - { local: "X:", remote: \\\\srv\\share }
        - { local: "Y:", remote: \\\\srv\\public }
  - op: net-use-delete
    drive: Y
  - op: net-use-delete
    drive: Y
    expect: STATUS_NO_SUCH_FILE
  - op: net-list
    expect: { connections: [{ local: "X:", remote: \\\\srv\\share }] }
`);
  passed(t, r);
  t.is(stepsOf(r, "net-use")[0]?.sent, "net use X: \\\\srv\\share");
  t.deepEqual(stepsOf(r, "net-use")[0]?.mrx, [
    "MRxDevFcbXXXControlFile",
    "MRxCreateSrvCall",
    "MRxSrvCallWinnerNotify",
    "MRxCreateVNetRoot",
  ]);
  t.is(stepsOf(r, "net-use")[2]?.status, "STATUS_LOGON_FAILURE");
});

test("create, write, read, flush, query-info, close; information and data compared", async (t) => {
  const r = await run(`name: files
steps:
${NET_USE}  - op: create
    path: X:\\a.txt
    as: h
    disposition: FILE_CREATE
    expect: { status: STATUS_SUCCESS, information: FILE_CREATED, mrx: [MRxCreate] }
  - op: write
    handle: h
    offset: 0
    data: { hex: "68 69 00 ff" }
    expect: { information: 4 }
  - op: read
    handle: h
    offset: 0
    length: 16
    expect: { status: STATUS_SUCCESS, information: 4, data: { base64: "aGkA/w==" } }
  - op: flush
    handle: h
  - op: query-info
    handle: h
    class: FileStandardInformation
    expect: { fields: { EndOfFile: 4, NumberOfLinks: 1, DeletePending: false, Directory: false, AllocationSize: { min: 4 } } }
  - op: query-info
    handle: h
    class: FileBasicInformation
    expect: { fields: { FileAttributes: FILE_ATTRIBUTE_ARCHIVE } }
  - op: read
    handle: h
    offset: 100
    length: 1
    expect: STATUS_END_OF_FILE
  - op: close
    handle: h
  - op: create
    path: X:\\a.txt
    disposition: FILE_CREATE
    expect: STATUS_OBJECT_NAME_COLLISION
  - op: create
    path: \\\\srv\\share\\a.txt
    as: unc
    disposition: FILE_OPEN
    expect: { information: FILE_OPENED }
  - op: read
    handle: unc
    length: 2
    expect: { data: hi }
  - op: close
    handle: unc
`);
  passed(t, r);
  t.regex(stepsOf(r, "create")[0]?.sent ?? "", /^NtCreateFile \\\?\?\\X:\\a\.txt FILE_CREATE access=/);
  t.regex(stepsOf(r, "create")[2]?.sent ?? "", /\\\?\?\\UNC\\srv\\share\\a\.txt/);
});

test("set-info: rename, end of file, disposition; query-directory with patterns and restart", async (t) => {
  const r = await run(`name: set and list
steps:
${NET_USE}  - op: create
    path: X:\\d
    as: d
    options: FILE_DIRECTORY_FILE
    access: [GENERIC_READ, FILE_LIST_DIRECTORY, SYNCHRONIZE]
    disposition: FILE_CREATE
  - op: create
    path: X:\\d\\one.txt
    as: f
    access: GENERIC_READ | GENERIC_WRITE | DELETE | SYNCHRONIZE
  - op: set-info
    handle: f
    class: FileEndOfFileInformation
    value: { EndOfFile: 10 }
  - op: set-info
    handle: f
    class: FileRenameInformation
    value: { FileName: \\d\\two.txt, ReplaceIfExists: false }
  - op: query-info
    handle: f
    class: FileStandardInformation
    expect: { fields: { EndOfFile: 10 } }
  - op: create
    path: X:\\d\\three.dat
  - op: query-directory
    handle: d
    class: FileNamesInformation
    pattern: "*.txt"
    expect: { names: [two.txt] }
  - op: query-directory
    handle: d
    class: FileNamesInformation
    restart: true
    expect: { names: [two.txt] }
  - op: create
    path: X:\\d
    as: d2
    options: FILE_DIRECTORY_FILE
    access: [GENERIC_READ, FILE_LIST_DIRECTORY, SYNCHRONIZE]
    disposition: FILE_OPEN
  - op: query-directory
    handle: d2
    class: FileDirectoryInformation
    single: true
    expect: { names: ["."] }
  - op: query-directory
    handle: d2
    class: FileDirectoryInformation
    expect: { names: ["..", three.dat, two.txt] }
  - op: query-directory
    handle: d2
    expect: STATUS_NO_MORE_FILES
  - op: close
    handle: d2
  - op: set-info
    handle: f
    class: FileDispositionInformation
    value: { DeleteFile: true }
  - op: close
    handle: f
  - op: create
    path: X:\\d
    as: d3
    options: FILE_DIRECTORY_FILE
    access: [GENERIC_READ, FILE_LIST_DIRECTORY, SYNCHRONIZE]
    disposition: FILE_OPEN
  - op: query-directory
    handle: d3
    class: FileNamesInformation
    expect: { names: [".", "..", three.dat] }
  - op: close
    handle: d3
  - op: close
    handle: d
`);
  passed(t, r);
});

test("notify, wait with records, cancel by request and by handle; close completes with STATUS_NOTIFY_CLEANUP", async (t) => {
  const r = await run(`name: notify
steps:
${NET_USE}  - op: create
    path: X:\\w
    as: w
    options: FILE_DIRECTORY_FILE
    access: FILE_LIST_DIRECTORY | SYNCHRONIZE
    synchronous: false
  - op: notify
    handle: w
    filter: FILE_NOTIFY_CHANGE_FILE_NAME
    as: n1
    expect: STATUS_PENDING
  - op: create
    path: X:\\w\\new.txt
  - op: wait
    request: n1
    expect: { status: STATUS_SUCCESS, records: [{ action: FILE_ACTION_ADDED, name: new.txt }] }
  - op: notify
    handle: w
    filter: FILE_NOTIFY_CHANGE_FILE_NAME
    as: n2
    expect: STATUS_PENDING
  - op: cancel
    request: n2
  - op: wait
    request: n2
    expect: STATUS_CANCELLED
  - op: notify
    handle: w
    filter: FILE_NOTIFY_CHANGE_FILE_NAME
    as: n3
    expect: STATUS_PENDING
  - op: cancel
    handle: w
  - op: wait
    request: n3
    expect: STATUS_CANCELLED
  - op: notify
    handle: w
    filter: FILE_NOTIFY_CHANGE_FILE_NAME
    as: n4
    expect: STATUS_PENDING
  - op: close
    handle: w
  - op: wait
    request: n4
    expect: STATUS_NOTIFY_CLEANUP
`);
  passed(t, r);
  t.regex(stepsOf(r, "wait")[0]?.result ?? "", /FILE_ACTION_ADDED new\.txt/);
});

test("locks: a conflict fails immediately, a waiting lock is granted when the holder unlocks (two threads)", async (t) => {
  const r = await run(`name: locks
threads:
  a:
    steps:
${NET_USE.replace(/^/gm, "    ").trimEnd()}
      - op: create
        path: X:\\l.txt
        as: la
      - op: lock
        handle: la
        offset: 0
        length: 10
      - op: signal
        event: locked
      - op: wait-signal
        event: waiting
      - op: advance
        by: 50ms
      - op: unlock
        handle: la
        offset: 0
        length: 10
      - op: close
        handle: la
  b:
    steps:
      - op: wait-signal
        event: locked
      - op: create
        path: X:\\l.txt
        as: lb
      - op: lock
        handle: lb
        offset: 5
        length: 1
        expect: STATUS_LOCK_NOT_GRANTED
      - op: create
        path: X:\\l.txt
        as: async
        synchronous: false
      - op: lock
        handle: async
        offset: 5
        length: 1
        exclusive: false
        failImmediately: false
        as: wl
        expect: STATUS_PENDING
      - op: signal
        event: waiting
      - op: wait
        request: wl
        expect: STATUS_SUCCESS
      - op: close
        handle: async
      - op: close
        handle: lb
`);
  passed(t, r);
  t.is(new Set(r.steps.map((s) => s.thread)).size, 2);
  const wait = stepsOf(r, "wait")[0];
  const unlock = stepsOf(r, "unlock")[0];
  t.true((unlock?.time ?? 0) >= 0.05, "the unlock comes after the 50 ms wait");
  t.true((wait?.time ?? 0) >= (unlock?.time ?? 1), "the waiting lock is granted only after the unlock");
});

test("ioctl on the device by name, fsctl, start/stop, advance moves virtual time", async (t) => {
  const r = await run(`name: control
setup: { start: false }
steps:
  - op: ioctl
    device: true
    code: GETLIST
    outputLength: 26
    expect: { status: STATUS_SUCCESS, information: 26 }
  - op: start
  - op: start
    expect: [STATUS_REDIRECTOR_STARTED, STATUS_SUCCESS]
${NET_USE}  - op: ioctl
    device: true
    code: IOCTL_MEMSMB_GETCONN
    input: { utf16: X }
    outputLength: 200
    expect: { output: { utf16: "\\\\srv\\\\share" } }
  - op: create
    path: X:\\f.txt
    as: f
  - op: fsctl
    handle: f
    code: FSCTL_LOCK_VOLUME
    expect: [STATUS_INVALID_DEVICE_REQUEST, STATUS_NOT_SUPPORTED, STATUS_INVALID_PARAMETER, STATUS_ACCESS_DENIED]
  - op: close
    handle: f
  - op: advance
    by: 2.5s
  - op: net-use-delete
    drive: X
  - op: stop
`);
  passed(t, r);
  const adv = stepsOf(r, "advance")[0];
  t.true((adv?.time ?? 0) >= 2.5);
});

test("call and check: RDBSS routines on named objects from a system thread, object state by selector", async (t) => {
  const r = await run(`name: call
threads:
  app:
    steps:
${NET_USE.replace(/^/gm, "    ").trimEnd()}
      - op: create
        path: X:\\c.txt
        as: h
      - op: signal
        event: open
      - op: wait-signal
        event: checked
      - op: close
        handle: h
  kernel:
    system: true
    steps:
      - op: wait-signal
        event: open
      - op: check
        objects:
          "SRV_CALL \\\\srv": { Condition: Good, refs: { min: 1 } }
          "NET_ROOT \\\\srv\\\\share": { exists: true }
          "V_NET_ROOT X:": { Condition: Condition_Good }
          "FCB X:\\\\c.txt": { OpenCount: 1, UncleanCount: 1 }
          "FCB \\\\srv\\\\share\\\\c.txt": { OpenCount: 1 }
          "FOBX of h": { exists: true }
          "SRV_OPEN of h": { Condition: Good }
          "FCB X:\\\\nothing.txt": { exists: false }
        mrx: { MRxCreate: 1, MRxCreateSrvCall: 1, MRxFinalizeSrvCall: 0 }
        live: { SRV_CALL: 1, NET_ROOT: 1, V_NET_ROOT: 1, FCB: 1, SRV_OPEN: 1, FOBX: 1 }
      - op: call
        routine: RxFinalizeSrvCall
        object: SRV_CALL \\srv
        force: false
        expect: { result: false }
      - op: call
        routine: RxFinalizeNetRoot
        object: NET_ROOT \\srv\\share
        expect: { result: false }
      - op: signal
        event: checked
`);
  passed(t, r);
  t.regex(
    stepsOf(r, "call")[0]?.sent ?? "",
    /^RxFinalizeSrvCall\(SRV_CALL#\d+ \\srv, Force=FALSE\) \(holding exclusive netname table/,
  );
  t.is(stepsOf(r, "call")[0]?.result, "FALSE");
});

test("check files: what the server holds; fault drop fails requests in flight", async (t) => {
  const r = await run(`name: files and faults
steps:
${NET_USE}  - op: create
    path: X:\\s.txt
    as: h
  - op: write
    handle: h
    offset: 0
    data: safe
  - op: check
    files:
      \\\\srv\\share\\s.txt: safe
      \\\\srv\\share\\absent.txt: null
  - op: fault
    drop: srv
  - op: read
    handle: h
    offset: 0
    length: 4
    expect: [STATUS_CONNECTION_DISCONNECTED, STATUS_UNEXPECTED_NETWORK_ERROR, STATUS_NETWORK_NAME_DELETED]
  - op: close
    handle: h
`);
  passed(t, r);
  t.regex(stepsOf(r, "fault")[0]?.result ?? "", /^[1-9]\d* dropped$/);
});

test("unload reports what RxUnregisterMinirdr found alive", async (t) => {
  const r = await run(`name: unload
steps:
${NET_USE}  - op: unload
    expect:
      names:
        - SRV_CALL#1 \\srv (count 2)
        - NET_ROOT#2 \\srv\\share (count 2)
        - V_NET_ROOT#3 \\;X:0\\srv\\share (count 2)
`);
  passed(t, r);
  t.deepEqual(r.leaks, []);
});

test("nulmrx runs the same step kinds (no servers)", async (t) => {
  const r = await run(`name: nulmrx
setup: { minirdr: nulmrx }
steps:
${NET_USE}  - op: create
    path: X:\\n.txt
    as: h
  - op: write
    handle: h
    offset: 0
    data: nul
  - op: read
    handle: h
    offset: 0
    length: 3
    expect: { data: nul }
  - op: close
    handle: h
  - op: net-use-delete
    drive: X
`);
  passed(t, r);
  t.is(r.minirdr, "nulmrx");
});

// ------------------------------------------------------------------ expectations that fail, in words

test("a status mismatch names both statuses and the place", async (t) => {
  const r = await run(`name: s
steps:
${NET_USE}  - op: create
    path: X:\\missing.txt
    disposition: FILE_OPEN
    expect: STATUS_SUCCESS
  - op: start
`);
  failedWith(
    t,
    r,
    /^t\.yaml:6:5 \(steps\[1\], create\): NtCreateFile .*: returned STATUS_OBJECT_NAME_NOT_FOUND, expected STATUS_SUCCESS$/,
  );
  t.is(r.steps.at(-1)?.outcome, "not-run", "the thread stops at its first failure");
});

test("a step without expect must succeed", async (t) => {
  const r = await run(`name: s
steps:
${NET_USE}  - op: create
    path: X:\\missing.txt
    disposition: FILE_OPEN
`);
  failedWith(t, r, /returned STATUS_OBJECT_NAME_NOT_FOUND \(a step without `expect` must succeed/);
});

test("data, information, names, records, fields, connections, mrx and check mismatches are explained", async (t) => {
  const cases: [string, RegExp][] = [
    [
      `  - op: create\n    path: X:\\d.txt\n    as: h\n  - op: write\n    handle: h\n    offset: 0\n    data: abcdef\n  - op: read\n    handle: h\n    offset: 0\n    length: 6\n    expect: { data: abcXef }\n`,
      /data is "abcdef", expected "abcXef" \(first difference at byte 3\)/,
    ],
    [
      `  - op: create\n    path: X:\\d.txt\n    expect: { information: FILE_OPENED }\n`,
      /Information is FILE_CREATED \(2\), expected FILE_OPENED \(1\)/,
    ],
    [
      `  - op: create\n    path: X:\\d\n    as: d\n    options: FILE_DIRECTORY_FILE\n  - op: query-directory\n    handle: d\n    expect: { names: [x] }\n`,
      /names are \[".",".."\], expected \["x"\]/,
    ],
    [
      `  - op: create\n    path: X:\\q.txt\n    as: h\n  - op: query-info\n    handle: h\n    class: FileStandardInformation\n    expect: { fields: { EndOfFile: 7 } }\n`,
      /result\.EndOfFile is 0, expected 7/,
    ],
    [
      `  - op: create\n    path: X:\\q.txt\n    as: h\n  - op: query-info\n    handle: h\n    class: FileStandardInformation\n    expect: { fields: { Colour: 7 } }\n`,
      /no field "Colour"/,
    ],
    [
      `  - op: net-list\n    expect: { connections: [] }\n`,
      /connections are \[\{"local":"X:","remote":"\\\\\\\\srv\\\\share"\}\], expected \[\]/,
    ],
    [
      `  - op: create\n    path: X:\\m.txt\n    expect: { mrx: [MRxCollapseOpen] }\n`,
      /MRx calls were \[MRxCreate, MRxCleanupFobx\], expected \[MRxCollapseOpen\] in this order/,
    ],
    [
      `  - op: check\n    objects: { "SRV_CALL \\\\\\\\srv": { refs: 99 } }\n`,
      /SRV_CALL#1 \\srv\.refs is 2, expected 99/,
    ],
    [`  - op: check\n    objects: { "FCB X:\\\\\\\\none": { OpenCount: 0 } }\n`, /FCB X:\\\\none does not exist/],
    [`  - op: check\n    mrx: { MRxCreateSrvCall: 2 }\n`, /MRx calls\.MRxCreateSrvCall is 1, expected 2/],
    [`  - op: check\n    live: { FCB: 1 }\n`, /live objects\.FCB is 0, expected 1/],
    [
      `  - op: check\n    files: { "\\\\\\\\srv\\\\share\\\\nope.txt": "x" }\n`,
      /server file \\\\srv\\share\\nope\.txt does not exist/,
    ],
  ];
  for (const [steps, want] of cases) {
    const r = await run(`name: m\nsteps:\n${NET_USE}${steps}`);
    failedWith(t, r, want);
  }
});

test("expect.stop: a matching stop passes, a different one or none fails; stop: none reports the stop", async (t) => {
  const body = `threads:
  k:
    system: true
    steps:
${NET_USE.replace(/^/gm, "    ").trimEnd()}
      - op: call
        routine: RxFinalizeSrvCall
        object: SRV_CALL \\srv
        lock: none
`;
  const ok = await run(`name: a\n${body}expect:\n  stop: { code: RDR_FILE_SYSTEM, check: rdbssLocks }\n`);
  passed(t, ok);
  t.is(ok.stops[0]?.name, "RDR_FILE_SYSTEM");
  t.regex(ok.stops[0]?.steps[0] ?? "", /thread k was at t\.yaml:\d+:\d+ \(threads\.k\.steps\[1\], call\)/);
  failedWith(
    t,
    await run(`name: b\n${body}expect:\n  stop: 0xC4\n`),
    /stopped with 0x00000027 RDR_FILE_SYSTEM, expected 0xC4/,
  );
  failedWith(
    t,
    await run(`name: c\n${body}`),
    /^the run stopped: RDR_FILE_SYSTEM — RxFinalizeSrvCall .* requires the netname table/,
  );
  failedWith(t, await run(`name: d\nsteps:\n${NET_USE}expect:\n  stop: any\n`), /expected the run to stop/);
});

test("a check in record mode: expect.violations lists what must be recorded", async (t) => {
  const body = `threads:
  k:
    system: true
    steps:
${NET_USE.replace(/^/gm, "    ").trimEnd()}
      - op: call
        routine: RxFinalizeSrvCall
        object: SRV_CALL \\srv
        lock: none
        expect: { result: false }
`;
  passed(
    t,
    await run(`name: a\nsetup: { checks: { rdbssLocks: record } }\n${body}expect:\n  violations: [rdbssLocks]\n`),
  );
  failedWith(
    t,
    await run(`name: b\nsetup: { checks: { rdbssLocks: record } }\n${body}`),
    /a check recorded a violation: RDR_FILE_SYSTEM \(rdbssLocks\)/,
  );
});

test("leaks: a reference nobody drops is reported after teardown; leaks: allowed only reports it", async (t) => {
  const body = `threads:
  k:
    system: true
    steps:
${NET_USE.replace(/^/gm, "    ").trimEnd()}
      - op: call
        routine: RxReference
        object: SRV_CALL \\srv
`;
  const r = await run(`name: leak\n${body}`);
  t.false(r.passed);
  t.true(
    r.leaks.some((l) => /SRV_CALL#1 \\srv/.test(l)),
    r.leaks.join("\n"),
  );
  t.regex(r.failures.at(-1) ?? "", /left after teardown: .*SRV_CALL#1/);
  const allowed = await run(`name: leak ok\n${body}expect: { leaks: allowed }\n`);
  passed(t, allowed);
  t.true(allowed.leaks.length > 0);
});

test("a deadlocked scenario names what each thread was doing", async (t) => {
  const r = await run(`name: dl
steps:
${NET_USE}  - op: create
    path: X:\\w
    as: w
    options: FILE_DIRECTORY_FILE
    access: FILE_LIST_DIRECTORY | SYNCHRONIZE
    synchronous: false
  - op: notify
    handle: w
    filter: FILE_NOTIFY_CHANGE_FILE_NAME
    as: n
    expect: STATUS_PENDING
  - op: wait
    request: n
`);
  failedWith(t, r, /^the run stopped: DEADLOCK/);
  t.regex(r.stops[0]?.steps[0] ?? "", /thread main was at t\.yaml:17:5 \(steps\[3\], wait\)/);
});

test("query-volume decodes the answer; create passes EAs and RootDirectory; a routine's result is compared", async (t) => {
  const r = await run(`name: volume and eas
setup:
  servers:
    - name: srv
      users: [{ name: guest, password: "" }]
      shares: [{ name: share, permissions: { "*": full }, label: DATA, capacity: 1048576 }]
steps:
${NET_USE}  - op: create
    path: X:\\d
    as: d
    options: FILE_DIRECTORY_FILE
    access: [GENERIC_READ, FILE_LIST_DIRECTORY, FILE_TRAVERSE, SYNCHRONIZE]
  - op: create
    path: rel.txt
    root: d
    as: f
    ea: { ".CLASSINFO": { hex: "0001" } }
    expect: [STATUS_SUCCESS, STATUS_EAS_NOT_SUPPORTED, STATUS_INVALID_PARAMETER]
  - op: query-volume
    handle: d
    class: FileFsSizeInformation
    expect: { fields: { BytesPerSector: { min: 1 } } }
  - op: query-volume
    handle: d
    class: FileFsVolumeInformation
    expect: { fields: { VolumeLabel: DATA } }
`);
  passed(t, r);
  t.regex(stepsOf(r, "create")[1]?.sent ?? "", /^NtCreateFile rel\.txt /);
  t.regex(stepsOf(r, "query-volume")[1]?.result ?? "", /"DATA"/);
});

test("a call's result mismatch is explained", async (t) => {
  const r = await run(`name: result
threads:
  app:
    steps:
${NET_USE.replace(/^/gm, "    ").trimEnd()}
      - { op: signal, event: up }
  k:
    system: true
    steps:
      - { op: wait-signal, event: up }
      - op: call
        routine: RxFinalizeSrvCall
        object: SRV_CALL \\srv
        expect: { result: true }
`);
  failedWith(t, r, /RxFinalizeSrvCall\(SRV_CALL#1 \\srv, Force=FALSE\).*: returned false, expected true/);
});

test("check objects: a structure's MRX_ fields (accessor fields on its class) and its private refCount are listed", async (t) => {
  const r = await run(`name: check fields
steps:
${NET_USE}  - op: create
    path: X:\\f.txt
    as: h
    disposition: FILE_CREATE
  - op: check
    objects:
      "FCB X:\\\\f.txt": { OpenCount: 1, UncleanCount: 1, refCount: { min: 1 } }
      "FOBX of h": { Flags: 0, OffsetOfNextEaToReturn: 0 }
  - op: check
    objects:
      "FCB X:\\\\f.txt": { OpenCount: 2 }
  - op: close
    handle: h
`);
  failedWith(t, r, /OpenCount is 1, expected 2/);
  t.is(r.failures.length, 1, "only the second check fails");
});
