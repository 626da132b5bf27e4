/**
 * The intrusive lists of the IRP path (emulator/kernel/lists.ts DList, emulator/io/irp.ts IrpList): checked against a
 * Set (insertion order, membership, size) over random add / delete sequences, including deletes during iteration
 * and an IRP on three lists at once.
 */
import { fc, testProp } from "@fast-check/ava";
import test from "ava";
import { IRP, IRP_LIST_LINK, IrpList } from "../../emulator/io/index.js";
import { DList, type DListItem } from "../../emulator/kernel/index.js";

class Item implements DListItem<Item> {
  dPrev: Item | null = null;
  dNext: Item | null = null;
  dList: object | null = null;
  constructor(readonly n: number) {}
}

type Op = { kind: "add" | "delete"; which: number; list: number };
const op: fc.Arbitrary<Op> = fc.record({
  kind: fc.constantFrom("add" as const, "delete" as const),
  which: fc.nat({ max: 15 }),
  list: fc.nat({ max: 1 }),
});

testProp("DList behaves as a Set of items on one list at a time", [fc.array(op, { maxLength: 300 })], (t, ops) => {
  const items = Array.from({ length: 16 }, (_, i) => new Item(i));
  const lists = [new DList<Item>(), new DList<Item>()];
  const models = [new Set<Item>(), new Set<Item>()];
  for (const o of ops) {
    const item = items[o.which] as Item;
    const list = lists[o.list] as DList<Item>;
    const model = models[o.list] as Set<Item>;
    const elsewhere = models.some((m) => m !== model && m.has(item));
    if (o.kind === "add") {
      const expect = !model.has(item) && !elsewhere;
      t.is(list.add(item), expect, "add refuses an item already on a list");
      if (expect) model.add(item);
    } else {
      t.is(list.delete(item), model.delete(item));
    }
  }
  for (let i = 0; i < 2; i++) {
    const list = lists[i] as DList<Item>;
    const model = models[i] as Set<Item>;
    t.is(list.size, model.size);
    t.deepEqual(
      [...list].map((x) => x.n),
      [...model].map((x) => x.n),
      "insertion order",
    );
    for (const item of items) t.is(list.has(item), model.has(item));
  }
});

test("DList: deleting the item being visited does not stop the iteration", (t) => {
  const list = new DList<Item>();
  const items = [1, 2, 3, 4].map((n) => new Item(n));
  for (const i of items) list.add(i);
  const seen: number[] = [];
  for (const i of list) {
    seen.push(i.n);
    list.delete(i);
  }
  t.deepEqual(seen, [1, 2, 3, 4]);
  t.is(list.size, 0);
  t.deepEqual([...list], []);
});

testProp(
  "IrpList: an IRP on the live, thread and file lists at once; each list behaves as a Set",
  [
    fc.array(
      fc.record({ kind: fc.constantFrom("add", "delete"), which: fc.nat({ max: 9 }), link: fc.nat({ max: 2 }) }),
      { maxLength: 300 },
    ),
  ],
  (t, ops) => {
    const irps = Array.from({ length: 10 }, (_, i) => new IRP(1, i + 1));
    const links = [IRP_LIST_LINK.live, IRP_LIST_LINK.thread, IRP_LIST_LINK.file] as const;
    const lists = links.map((l) => new IrpList(l));
    const models = links.map(() => new Set<IRP>());
    for (const o of ops) {
      const irp = irps[o.which] as IRP;
      const list = lists[o.link] as IrpList;
      const model = models[o.link] as Set<IRP>;
      if (o.kind === "add") {
        const fresh = !model.has(irp);
        t.is(list.add(irp), fresh);
        model.add(irp);
      } else t.is(list.delete(irp), model.delete(irp));
    }
    for (let i = 0; i < 3; i++) {
      const list = lists[i] as IrpList;
      const model = models[i] as Set<IRP>;
      t.is(list.size, model.size);
      t.deepEqual(
        [...list].map((x) => x.id),
        [...model].map((x) => x.id),
      );
      for (const irp of irps) t.is(list.has(irp), model.has(irp));
    }
  },
);

test("IrpList: a second list of the same link refuses an IRP already on one", (t) => {
  const a = new IrpList(IRP_LIST_LINK.file);
  const b = new IrpList(IRP_LIST_LINK.file);
  const irp = new IRP(1, 1);
  t.true(a.add(irp));
  t.false(b.add(irp));
  t.false(b.delete(irp));
  t.true(a.has(irp));
  t.false(b.has(irp));
  t.true(a.delete(irp));
  t.true(b.add(irp));
});
