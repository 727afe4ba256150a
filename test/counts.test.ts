import { describe, expect, it } from "vitest";
import { summarize } from "../src/codegen/index.js";
import { loadSpec } from "../src/toolchain/load.js";

/** Reference figures of the torchvision architectures at 224×224, 1000 classes (conv + dense MACs, trainable params). */
describe("paper configurations match the reference architectures", () => {
  const cases = [
    { file: "examples/imagenet-resnet18.meanet", params: 11_689_512, macs: 1_814_073_344 },
    { file: "examples/imagenet-mobilenetv2.meanet", params: 3_504_872, macs: 300_774_272 },
  ];
  for (const c of cases) {
    it(`${c.file}: main block`, () => {
      const r = loadSpec(c.file);
      expect(r.diagnostics.filter((d) => d.severity === "error")).toEqual([]);
      const main = summarize(r.ir!, r.results).blocks.find((b) => b.name === "main")!;
      expect(main.params).toBe(c.params);
      expect(main.macs).toBe(c.macs);
    });
  }

  it("the ResNet-101 cloud model has torchvision's parameter count", () => {
    const r = loadSpec("examples/imagenet-resnet18.meanet");
    const cloud = summarize(r.ir!, r.results).blocks.find((b) => b.name === "cloud")!;
    expect(cloud.params).toBe(44_549_160);
  });

  it("every example compiles cleanly", () => {
    for (const f of ["examples/fashion-mnist.meanet", "examples/cifar100-resnet32.meanet", "examples/imagenet-resnet18.meanet", "examples/imagenet-mobilenetv2.meanet"]) {
      const r = loadSpec(f);
      expect(r.diagnostics, f).toEqual([]);
    }
  });
});
