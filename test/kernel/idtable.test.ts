/**
 * IdTable (emulator/kernel/idtable.ts): the chunked table behind handle tables and memsmb's open table. Checked
 * against a Map over random operation sequences; a chunk goes with its last entry.
 */
import { fc, testProp } from "@fast-check/ava";
import test from "ava";
import { IdTable } from "../../emulator/kernel/index.js";

type Op = { kind: "add"; gap: number; tag: number } | { kind: "delete"; pick: number };

const op: fc.Arbitrary<Op> = fc.oneof(
  fc.record({ kind: fc.constant("add" as const), gap: fc.integer({ min: 1, max: 200 }), tag: fc.integer() }),
  fc.record({ kind: fc.constant("delete" as const), pick: fc.nat() }),
);

testProp(
  "behaves as a Map keyed by increasing ids: get, tag, size, ids in order, delete",
  [fc.array(op, { maxLength: 400 })],
  (t, ops) => {
    const table = new IdTable<{ id: number }>();
    const model = new Map<number, { value: { id: number }; tag: number }>();
    let next = 0;
    for (const o of ops) {
      if (o.kind === "add") {
        next += o.gap;
        const value = { id: next };
        table.set(next, value, o.tag);
        model.set(next, { value, tag: o.tag });
      } else if (model.size > 0) {
        const ids = [...model.keys()];
        const id = ids[o.pick % ids.length] as number;
        t.is(table.delete(id), model.get(id)?.value);
        model.delete(id);
        t.is(table.delete(id), undefined, "a second delete finds nothing");
      }
    }
    t.is(table.size, model.size);
    t.deepEqual(
      table.ids(),
      [...model.keys()].sort((a, b) => a - b),
    );
    for (const [id, e] of model) {
      t.is(table.get(id), e.value);
      t.is(table.tag(id), e.tag);
      t.true(table.has(id));
    }
    for (let id = 0; id <= next + 1; id++) if (!model.has(id)) t.is(table.get(id), undefined);
  },
);

test("ids that are not table ids find nothing; set refuses them", (t) => {
  const table = new IdTable<string>();
  table.set(1, "one", 7);
  for (const bad of [1.5, -1, 2 ** 31, Number.NaN]) {
    t.is(table.get(bad), undefined, String(bad));
    t.is(table.tag(bad), 0);
    t.is(table.delete(bad), undefined);
  }
  t.throws(() => table.set(1.5, "x"), { instanceOf: RangeError, message: /id 1\.5/ });
  t.throws(() => table.set(-4, "x"), { instanceOf: RangeError });
  t.throws(() => table.set(2, undefined as unknown as string), { instanceOf: TypeError });
  t.is(table.get(1), "one");
  t.is(table.size, 1);
});

test("memory follows the live entries: a chunk goes with its last entry, so ids used once cost nothing later", (t) => {
  const table = new IdTable<number>();
  for (let id = 0; id < 10_000; id++) table.set(id, id);
  const full = table.chunkCount;
  t.true(full >= 10_000 / 64);
  for (let id = 0; id < 10_000; id++) if (id % 1000 !== 0) table.delete(id);
  t.is(table.size, 10);
  t.is(table.chunkCount, 10, "one chunk per survivor");
  for (let id = 0; id < 10_000; id += 1000) table.delete(id);
  t.is(table.chunkCount, 0);
  t.deepEqual(table.values(), []);
});
