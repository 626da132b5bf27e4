/**
 * RDBSS's list of live structures (LiveList): a Set's behaviour — insertion order, no duplicates, delete anywhere,
 * size — over links kept in the structures themselves.
 */
import test from "ava";
import { LiveList, NET_ROOT, SRV_CALL, V_NET_ROOT } from "../../emulator/rdbss/index.js";

function nodes() {
  const sc = new SRV_CALL(1, "\\s", {}, "");
  const nr = new NET_ROOT(2, sc, "\\s\\x", "");
  const vnr = new V_NET_ROOT(3, nr, "\\;X:0\\s\\x", "", "u", "");
  const sc2 = new SRV_CALL(4, "\\t", {}, "");
  return [sc, nr, vnr, sc2] as const;
}

test("iterates in insertion order; adding twice keeps one entry", (t) => {
  const l = new LiveList();
  const [a, b, c, d] = nodes();
  l.add(a).add(b).add(c).add(b).add(d);
  t.is(l.size, 4);
  t.deepEqual(
    [...l].map((n) => n.serial),
    [1, 2, 3, 4],
  );
  t.true(l.has(c));
});

test("deleting the head, a middle and the tail keeps the rest in order; deleting twice is false", (t) => {
  const l = new LiveList();
  const [a, b, c, d] = nodes();
  for (const n of [a, b, c, d]) l.add(n);
  t.true(l.delete(b));
  t.false(l.delete(b));
  t.deepEqual(
    [...l.values()].map((n) => n.serial),
    [1, 3, 4],
  );
  t.true(l.delete(a));
  t.true(l.delete(d));
  t.deepEqual(
    [...l].map((n) => n.serial),
    [3],
  );
  t.false(l.has(a));
  t.is(l.size, 1);
  l.add(a);
  t.deepEqual(
    [...l].map((n) => n.serial),
    [3, 1],
    "re-added at the end",
  );
  t.true(l.delete(c));
  t.true(l.delete(a));
  t.is(l.size, 0);
  t.deepEqual([...l], []);
});
