/**
 * The structures' compact representations (emulator/rdbss/structs.ts) behave as the fields they stand for:
 * SrvOpenList / FobxList as lists in creation order, Condition beside the bit-backed booleans, an FCB's resources
 * named after it, and a label that survives the free.
 */
import test from "ava";
import { Condition, FOBX, SRV_OPEN } from "../../emulator/rdbss/index.js";
import * as H from "./_helpers.js";

test("SrvOpenList and FobxList: creation order, removal from any place, copies that do not change the list", async (t) => {
  const w = await H.makeWorld();
  const g = await H.handBuild(w);
  const fcb = g.fcb;
  const first = g.srvOpen;
  t.deepEqual(fcb.SrvOpenList, [first]);
  const second = new SRV_OPEN(90001, fcb, g.vNetRoot);
  const third = new SRV_OPEN(90002, fcb, g.vNetRoot);
  fcb.addSrvOpen(second);
  fcb.addSrvOpen(third);
  t.deepEqual(fcb.SrvOpenList, [first, second, third]);
  t.is(fcb.srvOpenCount, 3);
  const copy = fcb.SrvOpenList as SRV_OPEN[];
  copy.pop();
  t.is(fcb.srvOpenCount, 3, "the list is a copy");
  t.true(fcb.removeSrvOpen(second));
  t.false(fcb.removeSrvOpen(second), "not on the list any more");
  t.deepEqual(fcb.SrvOpenList, [first, third]);
  t.true(fcb.removeSrvOpen(first));
  t.deepEqual(fcb.SrvOpenList, [third]);
  fcb.addSrvOpen(second);
  t.deepEqual(fcb.SrvOpenList, [third, second]);
  // Inserting an entry that is already on the list would corrupt it (a cycle): refused, the list unchanged.
  t.throws(() => fcb.addSrvOpen(third), { message: /already on the list/ });
  t.throws(() => fcb.addSrvOpen(second), { message: /already on the list/ });
  t.deepEqual(fcb.SrvOpenList, [third, second]);

  const so = g.srvOpen;
  const f2 = new FOBX(90003, so);
  const f3 = new FOBX(90004, so);
  so.addFobx(f2);
  so.addFobx(f3);
  t.deepEqual(so.FobxList, [g.fobx, f2, f3]);
  t.true(so.removeFobx(f3));
  t.true(so.removeFobx(g.fobx));
  t.false(so.removeFobx(g.fobx));
  t.deepEqual(so.FobxList, [f2]);
});

test("Condition and the bit-backed booleans share one field without disturbing each other", async (t) => {
  const w = await H.makeWorld();
  const g = await H.handBuild(w);
  const n = g.fobx;
  for (const c of Object.values(Condition)) {
    for (const marked of [false, true]) {
      n.scavengerMarked = marked;
      n.fOpenCountDecremented = !marked;
      n.Condition = c;
      t.is(n.Condition, c);
      t.is(n.scavengerMarked, marked);
      t.is(n.fOpenCountDecremented, !marked);
      n.UpperFinalizationDone = true;
      t.is(n.Condition, c, "setting a flag keeps the condition");
      n.UpperFinalizationDone = false;
    }
  }
});

test("an FCB names its resources after itself; the label is the same before and after the free", async (t) => {
  const w = await H.makeWorld();
  const g = await H.handConnection(w);
  const fcb = await H.handFcb(w, g.vNetRoot);
  t.is(fcb.Header.Resource.name, "FCB \\hand\\share\\lone.txt");
  t.is(fcb.Header.Resource.lockType, "ERESOURCE");
  t.is(fcb.Header.PagingIoResource.name, "FCB paging \\hand\\share\\lone.txt");
  const label = fcb.label();
  t.regex(label, /^FCB#\d+ \\hand\\share\\lone\.txt$/);
  t.is(fcb.freed, null);
  t.true(await H.freeHandFcb(w, fcb));
  t.not(fcb.freed, null);
  t.is(fcb.freed?.label, label);
  t.is(fcb.label(), label);
});
