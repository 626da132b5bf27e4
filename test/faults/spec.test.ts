/**
 * Fault specs: the text form (`--fault`, `setup.faults: ["…"]`), its validation with suggestions, the object form in
 * scenarios, and formatting back to text.
 */
import test from "ava";
import {
  type FaultSpec,
  FaultSpecSchema,
  formatFaultSpec,
  knownSites,
  parseFaultSpec,
  parseFaultSpecs,
  validateFaultSpec,
} from "../../emulator/faults/index.js";
import { STATUS } from "../../emulator/kernel/index.js";
import { formatProblem, parseScenario } from "../../emulator/scenario/index.js";

function spec(text: string): FaultSpec {
  const r = parseFaultSpec(text);
  if ("error" in r) throw new Error(r.error);
  return r.spec;
}

function error(text: string): string {
  const r = parseFaultSpec(text);
  if (!("error" in r)) throw new Error(`expected "${text}" to be refused`);
  return r.error;
}

test("SITE@N is the Nth hit; a bare site is its first hit; ranges give a count", (t) => {
  t.deepEqual(spec("RxCreateNetFcb@2"), { site: "RxCreateNetFcb", nth: 2 });
  t.deepEqual(spec("RxCreateSrvOpen"), { site: "RxCreateSrvOpen", nth: 1 });
  t.deepEqual(spec("RxCreateRxContext@3..5"), { site: "RxCreateRxContext", nth: 3, count: 3 });
  t.deepEqual(spec("RxCreateSrvOpen@2.."), { site: "RxCreateSrvOpen", nth: 2, count: Number.POSITIVE_INFINITY });
  t.deepEqual(spec("RxCreate*@1"), { site: "RxCreate*", nth: 1 });
});

test("SITE~P is a seeded probability, as a fraction or a percentage", (t) => {
  t.deepEqual(spec("transport.send~0.05"), { site: "transport.send", probability: 0.05 });
  t.deepEqual(spec("transport.send~5%"), { site: "transport.send", probability: 0.05 });
  t.deepEqual(spec("server.*~1,count=2"), { site: "server.*", probability: 1, count: 2 });
});

test("options: status (with or without STATUS_), action and delay for transport sites", (t) => {
  t.deepEqual(spec("server.WRITE@1,status=STATUS_DISK_FULL"), {
    site: "server.WRITE",
    nth: 1,
    status: STATUS.STATUS_DISK_FULL,
  });
  t.is(spec("server.CREATE@1,status=ACCESS_DENIED").status, STATUS.STATUS_ACCESS_DENIED);
  t.deepEqual(spec("transport.receive@2,action=delay,delay=250ms"), {
    site: "transport.receive",
    nth: 2,
    action: "delay",
    delay: 2_500_000,
  });
  t.deepEqual(spec("transport.send@1,action=lose,delay=2s"), {
    site: "transport.send",
    nth: 1,
    action: "lose",
    delay: 20_000_000,
  });
});

test("bad specs are refused with a reason; a misspelt RDBSS site gets suggestions", (t) => {
  t.regex(error("RxCreateNetFbc@1"), /unknown fault site "RxCreateNetFbc".*did you mean RxCreateNetFcb/);
  t.regex(error("server.WRIT@1"), /unknown server operation "WRIT"/);
  t.regex(error("transport.sned@1"), /unknown transport site/);
  t.regex(error("RxCreateNetFcb@0"), /nth must be a whole number/);
  t.regex(error("RxCreateNetFcb@x"), /after @ comes a hit number/);
  t.regex(error("RxCreateNetFcb@5..3"), /empty/);
  t.regex(error("transport.send~1.5"), /probability must be in \(0, 1\]/);
  t.regex(error("transport.send~abc"), /after ~ comes a probability/);
  t.regex(error("RxCreateNetFcb@1,status=STATUS_SUCCESS"), /must be a failure/);
  t.regex(error("RxCreateNetFcb@1,status=STATUS_NOPE"), /unknown status/);
  t.regex(error("RxCreateNetFcb@1,action=delay"), /action and delay are for transport sites/);
  t.regex(error("transport.send@1,action=explode"), /action is disconnect, delay, lose/);
  t.regex(error("transport.send@1,delay=soon"), /delay is a duration/);
  t.regex(error("RxCreateNetFcb@1,colour=red"), /unknown option "colour"/);
  t.regex(error("RxCreateNetFcb@1,count"), /options are key=value/);
});

test("a mini-redirector's own sites are dotted names; globs are accepted as they are", (t) => {
  t.deepEqual(spec("mymrx.alloc.fcbext@3"), { site: "mymrx.alloc.fcbext", nth: 3 });
  t.deepEqual(spec("*~0.01"), { site: "*", probability: 0.01 });
  t.is(validateFaultSpec({ site: "RxCreate*", nth: 1 }), null);
  t.regex(validateFaultSpec({ site: "RxCreate*", nth: 1, probability: 0.5 }) ?? "", /exactly one of nth/);
  t.regex(validateFaultSpec({ site: "x.y" }) ?? "", /exactly one of nth/);
});

test("formatFaultSpec gives the text form back", (t) => {
  for (const text of [
    "RxCreateNetFcb@2",
    "RxCreateRxContext@3..5",
    "RxCreateSrvOpen@2..",
    "transport.send~0.05",
    "server.*~0.5,count=2",
    "server.WRITE@1,status=STATUS_DISK_FULL",
    "transport.receive@2,action=delay,delay=250ms",
    "transport.send@1,action=lose,delay=2s",
  ]) {
    t.is(formatFaultSpec(spec(text)), text);
    t.deepEqual(spec(formatFaultSpec(spec(text))), spec(text));
  }
});

test("parseFaultSpecs (the CLI's repeated --fault) stops at the first bad one", (t) => {
  t.deepEqual(parseFaultSpecs(["RxCreateNetFcb@1", "transport.send~0.1"]), {
    specs: [
      { site: "RxCreateNetFcb", nth: 1 },
      { site: "transport.send", probability: 0.1 },
    ],
  });
  const r = parseFaultSpecs(["RxCreateNetFcb@1", "Nope@1"]);
  t.true("error" in r);
});

test("every named site parses; the schema takes the text and the object form", (t) => {
  for (const s of knownSites()) t.deepEqual(spec(`${s}@1`), { site: s, nth: 1 });
  t.deepEqual(FaultSpecSchema.parse("RxCreateNetFcb@2"), { site: "RxCreateNetFcb", nth: 2 });
  t.deepEqual(FaultSpecSchema.parse({ site: "server.WRITE", nth: 1, count: "all", status: "DISK_FULL" }), {
    site: "server.WRITE",
    nth: 1,
    count: Number.POSITIVE_INFINITY,
    status: STATUS.STATUS_DISK_FULL,
  });
  t.deepEqual(FaultSpecSchema.parse({ site: "transport.send", probability: 0.5, action: "delay", delay: "10ms" }), {
    site: "transport.send",
    probability: 0.5,
    action: "delay",
    delay: 100_000,
  });
  t.false(FaultSpecSchema.safeParse({ site: "RxCreateNetFcb" }).success, "neither nth nor probability");
  t.false(FaultSpecSchema.safeParse({ site: "RxCreateNetFcb", nth: 1, colour: "red" }).success);
});

test("setup.faults and fault steps are checked when the scenario loads, with locations", (t) => {
  const bad = parseScenario(
    `name: bad faults
setup:
  faults: [RxCreateNetFcb@1, RxCreatNetFcb@2]
steps:
  - op: fault
    site: RxCreateSrvOpen
    probability: 0.5
    nth: 2
  - op: fault
  - op: fault
    drop: srv
    site: transport.send
`,
    "t.yaml",
  );
  t.false(bad.ok);
  if (bad.ok) return;
  const text = bad.problems.map(formatProblem).join("\n");
  t.regex(text, /t\.yaml:3:\d+: setup\.faults\[1\]: .*did you mean RxCreateNetFcb/);
  t.regex(text, /steps\[0\]\.site: .*exactly one of nth/);
  t.regex(text, /steps\[1\].*needs `drop` or `site`/);
  t.regex(text, /steps\[2\]\.site: give either `drop` or `site`/);
  const good = parseScenario(
    `name: good faults
setup:
  faults: ["RxCreateNetFcb@1", { site: transport.send, probability: 0.1 }]
steps:
  - op: fault
    site: RxCreateSrvOpen
`,
    "t.yaml",
  );
  if (!good.ok) return t.fail(good.problems.map(formatProblem).join("\n"));
  t.deepEqual(good.loaded.scenario.setup.faults, [
    { site: "RxCreateNetFcb", nth: 1 },
    { site: "transport.send", probability: 0.1 },
  ]);
});

test("an allocation site's status is RDBSS's to choose; other sites take one", (t) => {
  t.regex(error("RxCreateNetFcb@1,status=STATUS_NO_MEMORY"), /returns NULL .* a status cannot be chosen/);
  t.is(spec("RxDispatchToWorkerThread@1,status=STATUS_NO_MEMORY").status, STATUS.STATUS_NO_MEMORY);
  t.is(spec("mymrx.alloc@1,status=0xC0000017").status, STATUS.STATUS_NO_MEMORY);
});
