/**
 * Routing overhead: per-input latency of the router (edge/main.onnx + the spec's routing rule +
 * bookkeeping) against a bare onnxruntime run of the same file, for inputs that exit at main.
 *
 *   node --import tsx bench/route.ts [--json] [--build DIR/<model>] [--rounds R] [--runs N] [--threads T]
 *
 * Without --build, the Fashion-MNIST example is trained briefly (3,000 images, one epoch) and
 * exported into a temporary directory, so that the main exit is confident on some inputs. Inputs
 * are the test images the router sends to the main exit. The two paths take turns, round after
 * round (order rotating), one input per call; both fetch the same outputs (probs_main and
 * main.features) from the same session options. The last line with --json is one JSON object.
 */
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { Router } from "../src/runtime/infer/router.js";
import { loadTestSamples } from "../src/runtime/infer/run.js";
import { openSession, ort } from "../src/runtime/infer/onnx.js";

const { values } = parseArgs({ options: { json: { type: "boolean" }, build: { type: "string" }, rounds: { type: "string" }, runs: { type: "string" }, threads: { type: "string" } } });
const num = (name: "rounds" | "runs" | "threads", fallback: number) => {
  const v = values[name] === undefined ? fallback : Number(values[name]);
  if (!Number.isInteger(v) || v < 1) throw new Error(`--${name} takes an integer ≥ 1`);
  return v;
};
const rounds = num("rounds", 20);
const runs = num("runs", 300);
const threads = num("threads", 1);
const log = (s: string) => values.json || process.stderr.write(s + "\n");

const tmp = values.build ? undefined : mkdtempSync(join(tmpdir(), "meanet-bench-route-"));
try {
  let dir = values.build;
  if (!dir) {
    log("training the Fashion-MNIST example briefly (3,000 images, 1 epoch) and exporting it…");
    const cli = (...args: string[]) => {
      const r = spawnSync(process.execPath, ["bin/meanet.js", ...args], { encoding: "utf8" });
      if (r.status !== 0) throw new Error(`meanet ${args[0]} failed: ${r.stderr}`);
    };
    cli("train", "examples/fashion-mnist.meanet", "-o", tmp!, "--limit-train", "3000", "--limit-test", "100", "--epochs", "1", "--backend", "wasm");
    dir = join(tmp!, "fashion_mnist");
    cli("export", dir);
  }
  const router = await Router.open({ buildDir: dir, intraOpThreads: threads });
  const samples = loadTestSamples(router.manifest, undefined, 2000);
  const size = router.manifest.input.shape.reduce((a, b) => a * b, 1);
  const main = router.manifest.export!.partitions.find((p) => p.device === "edge")!;
  const picked: Uint8Array[] = [];
  for (let i = 0; i < samples.count && picked.length < 256; i++) {
    const x = samples.images.subarray(i * size, (i + 1) * size);
    const [a] = await router.classify(x, 1);
    if (a!.exit === "main" && !a!.degraded) picked.push(x);
  }
  if (picked.length < 16) throw new Error(`only ${picked.length} of the test images exit at main; train longer or pass --build`);
  const session = await openSession(join(dir, main.path), { intraOpThreads: threads });
  const io = main.inputs[0]!;
  const bare = async (x: Uint8Array) => {
    const r = await session.run({ [io.name]: new ort.Tensor("uint8", x, [1, ...io.shape]) });
    return r[main.outputs[0]!.name]!.data;
  };
  const routed = async (x: Uint8Array) => (await router.classify(x, 1))[0];
  const times = { bare: [] as number[], router: [] as number[] };
  const paths = [
    ["bare", bare],
    ["router", routed],
  ] as const;
  for (let w = 0; w < 200; w++) for (const [, f] of paths) await f(picked[w % picked.length]!);
  for (let round = 0; round < rounds; round++) {
    const order = round % 2 ? [...paths].reverse() : paths;
    for (const [name, f] of order) {
      for (let i = 0; i < runs; i++) {
        const x = picked[(round * runs + i) % picked.length]!;
        const t0 = process.hrtime.bigint();
        await f(x);
        times[name].push(Number(process.hrtime.bigint() - t0) / 1e6);
      }
    }
  }
  const pct = (a: number[], q: number) => [...a].sort((x, y) => x - y)[Math.floor(q * (a.length - 1))]!;
  const r3 = (x: number) => Number(x.toFixed(4));
  const result = {
    bench: "route",
    model: router.manifest.model,
    inputs: picked.length,
    calls: times.bare.length,
    threads,
    bareMsP50: r3(pct(times.bare, 0.5)),
    bareMsP99: r3(pct(times.bare, 0.99)),
    routerMsP50: r3(pct(times.router, 0.5)),
    routerMsP99: r3(pct(times.router, 0.99)),
    overheadRatio: r3(pct(times.router, 0.5) / pct(times.bare, 0.5)),
    target: 1.2,
  };
  await router.close();
  await session.release();
  if (!values.json) {
    console.log(`${picked.length} inputs that exit at main, ${result.calls} calls per path, ${threads} thread(s)`);
    console.log(`bare onnxruntime  p50 ${result.bareMsP50} ms  p99 ${result.bareMsP99} ms`);
    console.log(`router            p50 ${result.routerMsP50} ms  p99 ${result.routerMsP99} ms`);
    console.log(`overhead ratio (p50) ${result.overheadRatio} (target ≤ ${result.target})`);
  }
  console.log(JSON.stringify(result));
} finally {
  if (tmp) rmSync(tmp, { recursive: true, force: true });
}
