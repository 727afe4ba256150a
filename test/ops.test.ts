import { describe, expect, it } from "vitest";
import { Source } from "../src/diagnostics/index.js";
import { lookupOp } from "../src/ir/index.js";
import { isProblem } from "../src/ir/ops/index.js";
import type { AttrValue } from "../src/ir/index.js";

const span = { source: new Source("t", ""), start: 0, end: 0 };
function infer(op: string, shapes: number[][], attrs: Record<string, AttrValue>) {
  const def = lookupOp(op)!;
  const full: Record<string, AttrValue> = {};
  for (const p of def.params) if (p.default !== undefined) full[p.name] = p.default;
  Object.assign(full, attrs);
  const r = def.inferShape(shapes.map((s, i) => ({ shape: s, label: `t${i}`, span, origin: `line ${i + 1}` })), full);
  return { shape: r, cost: isProblem(r) ? undefined : def.cost(shapes, r, full) };
}

describe("shape rules, checked symbolically", () => {
  it("conv2d: same, valid and explicit padding with strides and dilation", () => {
    expect(infer("conv2d", [[28, 28, 1]], { filters: 8, kernel: 3 }).shape).toEqual([28, 28, 8]);
    expect(infer("conv2d", [[28, 28, 1]], { filters: 8, kernel: 3, padding: "valid" }).shape).toEqual([26, 26, 8]);
    expect(infer("conv2d", [[7, 7, 4]], { filters: 8, kernel: 3, stride: 2 }).shape).toEqual([4, 4, 8]);
    expect(infer("conv2d", [[7, 7, 4]], { filters: 8, kernel: 3, stride: 2, padding: "valid" }).shape).toEqual([3, 3, 8]);
    expect(infer("conv2d", [[224, 224, 3]], { filters: 64, kernel: 7, stride: 2, padding: 3 }).shape).toEqual([112, 112, 64]);
    expect(infer("conv2d", [[10, 10, 4]], { filters: 4, kernel: 3, dilation: 2, padding: "valid" }).shape).toEqual([6, 6, 4]);
  });

  it("pad adds zero rows, columns and channels, at no cost, and needs a feature map", () => {
    const p = infer("pad", [[7, 6, 4]], { top: 1, bottom: 2, right: 3, channels: 12 });
    expect(p.shape).toEqual([10, 9, 16]);
    expect(p.cost).toEqual({ params: 0, macs: 0, buffers: 0 });
    expect(infer("pad", [[7, 6, 4]], {}).shape).toEqual([7, 6, 4]);
    const v = infer("pad", [[10]], { top: 1 }).shape;
    expect(isProblem(v) && v.code).toBe("MN3002");
  });

  it("conv2d cost: params and MACs, with groups and bias", () => {
    const c = infer("conv2d", [[8, 8, 16]], { filters: 32, kernel: 3, groups: 4, bias: true }).cost!;
    expect(c.params).toBe(3 * 3 * 4 * 32 + 32);
    expect(c.macs).toBe(8 * 8 * 32 * 3 * 3 * 4);
  });

  it("conv2d rejects groups that do not divide the channels, and kernels larger than the input", () => {
    const g = infer("conv2d", [[8, 8, 6]], { filters: 8, groups: 4 }).shape;
    expect(isProblem(g) && g.code).toBe("MN3005");
    const k = infer("conv2d", [[2, 2, 3]], { filters: 8, kernel: 5, padding: "valid" }).shape;
    expect(isProblem(k) && k.code).toBe("MN3003");
  });

  it("depthwise_conv2d keeps channels times the multiplier", () => {
    const r = infer("depthwise_conv2d", [[14, 14, 32]], { stride: 2, multiplier: 2, bias: false });
    expect(r.shape).toEqual([7, 7, 64]);
    expect(r.cost).toEqual({ params: 9 * 64, macs: 7 * 7 * 64 * 9, buffers: 0, storage: { kind: "kernel", weights: 9 * 64, channels: 64, bias: false } });
  });

  it("pooling defaults the stride to the window", () => {
    expect(infer("max_pool", [[28, 28, 8]], { kernel: 2 }).shape).toEqual([14, 14, 8]);
    expect(infer("avg_pool", [[112, 112, 8]], { kernel: 3, stride: 2, padding: 1 }).shape).toEqual([56, 56, 8]);
    expect(infer("global_avg_pool", [[7, 7, 512]], {}).shape).toEqual([512]);
  });

  it("concat joins channels and names both shapes when they disagree", () => {
    expect(infer("concat", [[8, 8, 64], [8, 8, 32]], {}).shape).toEqual([8, 8, 96]);
    const bad = infer("concat", [[8, 8, 64], [7, 7, 64]], {}).shape;
    expect(isProblem(bad) && bad.code).toBe("MN3001");
    expect(isProblem(bad) && bad.message).toContain("`t0` (8×8×64, line 1)");
    expect(isProblem(bad) && bad.message).toContain("`t1` (7×7×64, line 2)");
  });

  it("dense needs a vector; batchnorm counts γ, β as params and running stats as buffers", () => {
    const d = infer("dense", [[7, 7, 4]], { units: 10 }).shape;
    expect(isProblem(d) && d.code).toBe("MN3002");
    expect(infer("dense", [[512]], { units: 1000 }).cost).toEqual({ params: 513_000, macs: 512_000, buffers: 0, storage: { kind: "kernel", weights: 512_000, channels: 1000, bias: true } });
    expect(infer("batchnorm", [[4, 4, 16]], {}).cost).toEqual({ params: 32, macs: 0, buffers: 32, storage: { kind: "norm", channels: 16 } });
  });
});
