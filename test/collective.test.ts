/** The replicas' meeting place: shards of a batch, and the errors a failed or silent replica gives the others. */
import { describe, expect, it } from "vitest";
import { Collective, groupMemory, SMALL_SLOT } from "../src/runtime/train/parallel/collective.js";
import { shardRows } from "../src/runtime/train/parallel/pool.js";

describe("replica exchanges", () => {
  it("shards cover a batch once, in order, sizes differing by at most one", () => {
    for (const [total, size] of [[128, 2], [67, 2], [5, 3], [64, 4]] as const) {
      const rows = [...Array(size).keys()].map((r) => shardRows(total, r, size));
      let next = 0;
      for (const { offset, count } of rows) {
        expect(offset).toBe(next);
        next += count;
      }
      expect(next).toBe(total);
      const counts = rows.map((r) => r.count);
      expect(Math.max(...counts) - Math.min(...counts)).toBeLessThanOrEqual(1);
    }
  });

  it("a replica that failed stops the others at their next meeting, with its reason (MN5012)", () => {
    const memory = groupMemory(2, 8);
    new Collective(1, memory).abort("replica 1: out of memory");
    expect(() => new Collective(0, memory, 5_000).allReduce(Float32Array.of(1, 2))).toThrow(expect.objectContaining({ code: "MN5012", message: expect.stringContaining("replica 1: out of memory") }));
  });

  it("a replica that never arrives ends the wait with an error naming --workers 1", () => {
    const memory = groupMemory(2, 8);
    const started = Date.now();
    expect(() => new Collective(0, memory, 50).reduceToRoot(Float32Array.of(1))).toThrow(expect.objectContaining({ code: "MN5012", message: expect.stringContaining("--workers 1") }));
    expect(Date.now() - started).toBeLessThan(5_000);
  });

  it("a vector longer than the shared slots is refused before anything is written", () => {
    const memory = groupMemory(2, 8);
    expect(() => new Collective(0, memory, 50).reduceToRoot(new Float32Array(9))).toThrow(/exceeds/);
    expect(() => new Collective(0, memory, 50).allReduce(new Float32Array(SMALL_SLOT + 1))).toThrow(/exceeds/);
  });

  it("with one replica every exchange returns its own vector", () => {
    const c = new Collective(0, groupMemory(1, 4));
    expect([...c.allReduce(Float32Array.of(1.5, -2))]).toEqual([1.5, -2]);
    expect([...c.reduceToRoot(Float32Array.of(3, 4))!]).toEqual([3, 4]);
    expect([...c.broadcast(2, (into) => into.set([5, 6]))]).toEqual([5, 6]);
  });
});
