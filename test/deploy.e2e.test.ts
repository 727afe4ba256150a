/**
 * The scale-out deployables: Triton's config.pbtxt and KServe's InferenceService written by
 * `meanet compile`, and the Triton model copy written by `meanet export`. The config is parsed back
 * and checked against the exported ONNX model itself, so a change to either side shows here; the
 * copy is checked against manifest.json by verify, serve and run like every exported file.
 */
import { spawn, spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { cpSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { decodeModel } from "../src/codegen/onnx/index.js";
import type { ValueInfoProto } from "../src/codegen/onnx/proto.js";
import { parsePbtxt, type PbMessage, type PbValue } from "./helpers/pbtxt.js";
import http from "node:http";
import { startServe, type ServeChild } from "../bench/serveChild.js";
import { CloudClient } from "../src/runtime/infer/client.js";
import { Router } from "../src/runtime/infer/router.js";
import { mulberry32 } from "../src/runtime/train/data/rng.js";
import { readBuild } from "../src/format/build.js";
import { computeExitOutputs } from "../src/runtime/eval/outputs.js";
import { autoCutSpec } from "./helpers/cut.js";

const tmp = mkdtempSync(join(tmpdir(), "meanet-deploy-"));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

function cli(...args: string[]) {
  const r = spawnSync(process.execPath, ["bin/meanet.js", ...args], { encoding: "utf8" });
  return { status: r.status, out: r.stdout, err: r.stderr };
}

const PYTHON = "/usr/bin/python3";
const HAS_ONNX = spawnSync(PYTHON, ["-c", "import onnx"]).status === 0;

const sha = (path: string) => createHash("sha256").update(readFileSync(path)).digest("hex");

// ---------------------------------------------------------------------------------------------

/** What Triton would make of one tensor, and what the ONNX model declares for it. */
interface TensorSig {
  name: string;
  type: string;
  dims: number[];
}

function configTensors(list: PbValue): TensorSig[] {
  return (list as PbMessage[]).map((t) => ({ name: t.name as string, type: t.data_type as string, dims: t.dims as number[] }));
}

/** ONNX TensorProto.DataType codes to Triton model-config types (Triton's datatype table). */
const ONNX_TO_TRITON: Record<number, string> = { 1: "TYPE_FP32", 2: "TYPE_UINT8", 3: "TYPE_INT8", 10: "TYPE_FP16" };

function onnxTensors(bytes: Uint8Array): { inputs: TensorSig[]; outputs: TensorSig[] } {
  const graph = decodeModel(bytes).graph!;
  const initializers = new Set((graph.initializer ?? []).map((t) => t.name));
  const sig = (v: ValueInfoProto): TensorSig => {
    const t = v.type!.tensorType!;
    const [batch, ...rest] = t.shape!.dim!;
    // Triton batches along a first dimension the config leaves out: it must be the dynamic one.
    expect(batch!.dimParam, `${v.name}: first dimension`).toBe("N");
    return { name: v.name!, type: ONNX_TO_TRITON[t.elemType!] ?? `onnx type ${t.elemType}`, dims: rest.map((d) => Number(d.dimValue)) };
  };
  return { inputs: (graph.input ?? []).filter((v) => !initializers.has(v.name!)).map(sig), outputs: (graph.output ?? []).map(sig) };
}

/** An `auto` block cut in two: the cloud model reads the cut tensor `far.c`. */
const AUTO = autoCutSpec("far");

const EDGE_ONLY = `model edgeonly
input image: f32[8, 8, 3]
labels 3
block main on edge {
  exit main over all = dense(gap(conv2d(image, 4)), num_classes)
}
`;

function specFile(name: string, text: string): string {
  const p = join(tmp, name);
  writeFileSync(p, text);
  return p;
}

/** Compiles and exports (random weights) into its own directory; returns the model's build directory. */
function compileAndExport(spec: string, out: string, model: string): string {
  const c = cli("compile", spec, "-o", out);
  expect(c.status, c.err).toBe(0);
  const e = cli("export", join(out, model), "--random-weights");
  expect(e.status, e.err).toBe(0);
  return join(out, model);
}

const CASES = [
  { label: "Fashion-MNIST", spec: () => "examples/fashion-mnist.meanet", model: "fashion_mnist" },
  { label: "an `on auto` block cut in two", spec: () => specFile("cut.meanet", AUTO), model: "cut" },
];

describe.each(CASES)("Triton and KServe files of $label", ({ spec, model }) => {
  let dir: string;
  let again: string;
  beforeAll(() => {
    const file = spec();
    dir = compileAndExport(file, join(tmp, `${model}-a`), model);
    again = compileAndExport(file, join(tmp, `${model}-b`), model);
  });

  it("config.pbtxt names exactly the inputs, outputs, data types and dims of the exported cloud model", () => {
    const config = parsePbtxt(readFileSync(join(dir, `cloud/triton/${model}/config.pbtxt`), "utf8"));
    expect(config).toMatchObject({ name: model, platform: "onnxruntime_onnx", max_batch_size: 64 });
    const onnx = onnxTensors(readFileSync(join(dir, "cloud/model.onnx")));
    expect(onnx.inputs.length).toBeGreaterThan(0);
    expect(configTensors(config.input!)).toEqual(onnx.inputs);
    expect(configTensors(config.output!)).toEqual(onnx.outputs);
    expect(config.dynamic_batching).toEqual({ max_queue_delay_microseconds: 2000 });
    expect(config.instance_group).toEqual([{ count: 1, kind: "KIND_CPU" }]);
    if (model === "cut") {
      // The cloud half of the cut block takes the edge half's feature map at the edge's int8 precision (uint8 with its calibrated scale), not the image.
      expect(configTensors(config.input!)).toEqual([{ name: "far.c", type: "TYPE_UINT8", dims: [8, 8, 2] }]);
      expect(configTensors(config.output!)).toEqual([{ name: "probs_far", type: "TYPE_FP32", dims: [4] }]);
    }
  });

  it("the Triton model is cloud/model.onnx byte for byte, and the manifest lists both with their sha256", () => {
    const copy = join(dir, `cloud/triton/${model}/1/model.onnx`);
    expect(readFileSync(copy)).toEqual(readFileSync(join(dir, "cloud/model.onnx")));
    const manifest = JSON.parse(readFileSync(join(dir, "manifest.json"), "utf8")) as { artifacts: { path: string; sha256: string; bytes: number }[] };
    for (const p of ["cloud/model.onnx", `cloud/triton/${model}/1/model.onnx`, `cloud/triton/${model}/config.pbtxt`, "cloud/kserve.yaml"]) {
      const listed = manifest.artifacts.find((a) => a.path === p);
      expect(listed, p).toBeDefined();
      expect(listed!.sha256, p).toBe(sha(join(dir, p)));
      expect(listed!.bytes, p).toBe(readFileSync(join(dir, p)).byteLength);
    }
    // The copy is an export file, listed once.
    expect(manifest.artifacts.filter((a) => a.path.endsWith("/1/model.onnx"))).toHaveLength(1);
  });

  it("kserve.yaml is an InferenceService for Triton whose storageUri ends with the repository path", () => {
    const text = readFileSync(join(dir, "cloud/kserve.yaml"), "utf8");
    // No YAML parser is installed in node_modules: check the structure line by line.
    const lines = text.split("\n").filter((l) => l.trim() !== "" && !l.trimStart().startsWith("#"));
    for (const l of lines) expect(l, "two-space indentation, key: value").toMatch(/^( {2})*[A-Za-z]+:( .+)?$/);
    expect(lines.slice(0, 4)).toEqual(["apiVersion: serving.kserve.io/v1beta1", "kind: InferenceService", "metadata:", `  name: ${model.replace(/_/g, "-")}`]);
    expect(lines).toEqual(expect.arrayContaining(["spec:", "  predictor:", "    model:", "      modelFormat:", "        name: triton", "      protocolVersion: v2"]));
    const uri = lines.find((l) => l.startsWith("      storageUri: "))!;
    expect(JSON.parse(uri.slice("      storageUri: ".length))).toBe(`pvc://meanet-models/${model}/cloud/triton`);
    expect(text).toMatch(/placeholder/i);
  });

  it("rebuilding gives byte-identical deploy files", () => {
    for (const p of [`cloud/triton/${model}/config.pbtxt`, "cloud/kserve.yaml", `cloud/triton/${model}/1/model.onnx`, "manifest.json"]) {
      expect(readFileSync(join(again, p)), p).toEqual(readFileSync(join(dir, p)));
    }
    // Exporting again into the same directory changes nothing either.
    const before = readFileSync(join(dir, "manifest.json"), "utf8");
    expect(cli("export", dir, "--random-weights").status).toBe(0);
    expect(readFileSync(join(dir, "manifest.json"), "utf8")).toBe(before);
  });
});

describe("deploy files of a spec without a cloud partition", () => {
  it("a spec without a cloud partition gets neither file, and its export no Triton model", () => {
    const out = join(tmp, "edge-only");
    const dir = compileAndExport(specFile("edgeonly.meanet", EDGE_ONLY), out, "edgeonly");
    expect(existsSync(join(dir, "cloud"))).toBe(false);
    const manifest = JSON.parse(readFileSync(join(dir, "manifest.json"), "utf8")) as { artifacts: { path: string }[] };
    expect(manifest.artifacts.map((a) => a.path).filter((p) => p.startsWith("cloud/"))).toEqual([]);
  });
});

/**
 * `meanet serve` until it either exits (refusing to start) or prints its `listening on` line; a
 * server that started is then stopped with SIGTERM, and `status` is its exit code after that.
 */
function serveOutcome(dir: string): Promise<{ listening: boolean; status: number | null; out: string; err: string }> {
  const child = spawn(process.execPath, ["bin/meanet.js", "serve", dir, "--port", "0"], { stdio: ["ignore", "pipe", "pipe"] });
  let out = "";
  let err = "";
  let listening = false;
  child.stderr.on("data", (c: Buffer) => (err += c.toString()));
  child.stdout.on("data", (c: Buffer) => {
    out += c.toString();
    if (!listening && /^listening on http:\/\/\S+\n/m.test(out)) {
      listening = true;
      child.kill("SIGTERM");
    }
  });
  return new Promise((resolve) => child.on("close", (status) => resolve({ listening, status, out, err })));
}

describe("the Triton copy, checked against manifest.json like every exported file", () => {
  const model = "fashion_mnist";
  const copyPath = `cloud/triton/${model}/1/model.onnx`;
  let dir: string;
  beforeAll(() => {
    dir = compileAndExport("examples/fashion-mnist.meanet", join(tmp, "checked"), model);
  });

  const spoilers: [string, (file: string) => void, RegExp][] = [
    [
      "one byte changed",
      (file) => {
        const bytes = readFileSync(file);
        bytes[bytes.length >> 1] ^= 1;
        writeFileSync(file, bytes);
      },
      /cloud\/triton\/fashion_mnist\/1\/model\.onnx does not match the sha256 in manifest\.json: it changed since the export; run `meanet export \S+` again/,
    ],
    ["deleted", (file) => rmSync(file), /cloud\/triton\/fashion_mnist\/1\/model\.onnx is missing; run `meanet export \S+` again/],
  ];

  it.each(spoilers)("%s: verify, serve and run refuse it by name before running anything; put back, all three pass", async (_, spoil, message) => {
    const file = join(dir, copyPath);
    const original = readFileSync(file);
    spoil(file);

    const v = cli("verify", dir, "--samples", "1", "--real", "0");
    expect(v.status).toBe(1);
    expect(v.err).toMatch(/^error MN5005: /);
    expect(v.err).toMatch(message);
    // Refused before onnxruntime or tfjs ran: no table.
    expect(v.out).toBe("");

    const s = await serveOutcome(dir);
    expect(s.listening, s.err).toBe(false);
    expect(s.status).toBe(1);
    expect(s.err).toMatch(/^error MN5005: /m);
    expect(s.err).toMatch(message);
    expect(s.out).toBe("");

    // Without --cloud, run serves the cloud model itself, through the same checks as serve.
    const r = cli("run", dir, "--limit", "4");
    expect(r.status).toBe(1);
    expect(r.err).toMatch(/^error MN5005: /m);
    expect(r.err).toMatch(message);

    writeFileSync(file, original);
    const again = cli("verify", dir, "--samples", "1", "--real", "0");
    expect(again.status, again.err).toBe(0);
    expect(again.out).toContain("all outputs within");
    const served = await serveOutcome(dir);
    expect(served.listening, served.err).toBe(true);
    expect(served.status).toBe(0);
    const ran = cli("run", dir, "--limit", "4");
    expect(ran.status, ran.err).toBe(0);
  });
  it("serve checks the cloud's files only: a cloud machine without the edge files serves, verify still names the missing edge file", async () => {
    const cloudOnly = join(tmp, "cloud-only", model);
    cpSync(dir, cloudOnly, { recursive: true });
    rmSync(join(cloudOnly, "edge"), { recursive: true, force: true });
    const served = await serveOutcome(cloudOnly);
    expect(served.listening, served.err).toBe(true);
    expect(served.status).toBe(0);
    const v = cli("verify", cloudOnly, "--samples", "1", "--real", "0");
    expect(v.status).toBe(1);
    expect(v.err).toMatch(/^error MN5005: .*edge\/main\.onnx is missing/m);
  });
});

/** The edge at each precision whose tensors cross the link narrower than float32, with the element type they cross at. */
const LINKS = [
  { precision: "int8", edge: "", dtype: "uint8", datatype: "UINT8", bytes: 1 },
  { precision: "fp16", edge: "precision: fp16", dtype: "float16", datatype: "FP16", bytes: 2 },
];

describe.each(LINKS)("a tensor an $precision edge sends to the cloud", ({ precision, edge, dtype, datatype, bytes }) => {
  let dir: string;
  let served: ServeChild;
  let proxy: http.Server;
  const requests: { headerLength: number; body: Buffer }[] = [];
  const spec = () => join(tmp, `wire-${precision}.meanet`);

  beforeAll(async () => {
    const out = join(tmp, `wire-${precision}`);
    dir = join(out, "cut");
    expect(cli("compile", specFile(`wire-${precision}.meanet`, autoCutSpec("far", edge)), "-o", out).status).toBe(0);
    const e = cli("export", dir, "--random-weights", "--calibration-images", "32");
    expect(e.status, e.err).toBe(0);
    served = await startServe([], "bin/meanet.js", [dir, "--port", "0"]);
    // Between the edge and the cloud: every request's bytes are kept, then passed on.
    proxy = http.createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on("data", (c: Buffer) => chunks.push(c));
      req.on("end", () => {
        const body = Buffer.concat(chunks);
        requests.push({ headerLength: Number(req.headers["inference-header-content-length"]), body });
        const headers = { ...req.headers, host: served.url.host };
        const out = http.request(new URL(req.url!, served.url), { method: req.method, headers }, (reply) => {
          res.writeHead(reply.statusCode ?? 502, reply.headers);
          reply.pipe(res);
        });
        out.end(body);
      });
    });
    await new Promise<void>((resolve) => proxy.listen(0, "127.0.0.1", resolve));
  });
  afterAll(async () => {
    proxy?.close();
    served?.process.kill("SIGTERM");
    await served?.exited;
  });

  it(`crosses the link as ${dtype}: the bytes on the wire per input are inspect's bytes sent; the routed answers are the files' own, run in-process`, async () => {
    const inspected = JSON.parse(cli("inspect", spec(), "--json").out) as { routes: { exit: string; bytesSent: number }[] };
    const sent = inspected.routes.find((r) => r.exit === "far")!.bytesSent;
    expect(sent).toBe(8 * 8 * 2 * bytes);
    const manifest = JSON.parse(readFileSync(join(dir, "manifest.json"), "utf8"));
    const cloudFile = manifest.export.partitions.find((p: { device: string }) => p.device === "cloud");
    const cut = cloudFile.inputs[0];
    expect(cut).toMatchObject({ name: "far.c", dtype });
    const edgeFile = manifest.export.partitions.find((p: { path: string }) => p.path === "edge/far.onnx");
    expect(edgeFile.outputs.map((o: { name: string; dtype: string }) => [o.name, o.dtype])).toEqual([["far.c", dtype]]);
    if (precision === "int8") expect(cut.quant).toEqual({ scale: expect.any(Number), zeroPoint: expect.any(Number) });
    else expect(cut.quant).toBeUndefined();
    // The float32 references give and take the cut in float32: the cloud model has one too.
    expect(onnxTensors(readFileSync(join(dir, "edge/far.onnx"))).outputs).toEqual([{ name: "far.c", type: `TYPE_${datatype}`, dims: [8, 8, 2] }]);
    expect(onnxTensors(readFileSync(join(dir, edgeFile.reference))).outputs).toEqual([{ name: "far.c", type: "TYPE_FP32", dims: [8, 8, 2] }]);
    expect(cloudFile.reference).toBe("cloud/reference/model.onnx");
    expect(onnxTensors(readFileSync(join(dir, cloudFile.reference))).inputs).toEqual([{ name: "far.c", type: "TYPE_FP32", dims: [8, 8, 2] }]);

    const { port } = proxy.address() as { port: number };
    const router = await Router.open({ buildDir: dir, cloud: new CloudClient({ url: `http://127.0.0.1:${port}`, model: "cut", timeoutMs: 10_000 }) });
    const n = 24;
    const rng = mulberry32(precision === "int8" ? 21 : 22);
    const images = Uint8Array.from({ length: n * 16 * 16 * 3 }, () => Math.floor(rng() * 256));
    const answers = await router.classify(images, n);
    await router.close();
    const toCloud = answers.filter((a) => a.exit === "far").length;
    expect(toCloud).toBeGreaterThan(0);
    expect(answers.filter((a) => a.exit === "far").every((a) => !a.degraded && a.bytesSent === sent)).toBe(true);
    // Each request: a JSON header naming the inputs, then their bytes.
    let inputs = 0;
    for (const r of requests) {
      const header = JSON.parse(r.body.subarray(0, r.headerLength).toString("utf8")) as { inputs: { name: string; datatype: string; shape: number[]; parameters: { binary_data_size: number } }[] };
      expect(header.inputs.map((i) => [i.name, i.datatype])).toEqual([["far.c", datatype]]);
      const rows = header.inputs[0]!.shape[0]!;
      expect(r.body.byteLength - r.headerLength).toBe(rows * sent);
      expect(header.inputs[0]!.parameters.binary_data_size).toBe(rows * sent);
      inputs += rows;
    }
    expect(inputs).toBe(toCloud);
    // The same files chained in-process, as eval runs them: the same exit, class and confidence for every input.
    const table = await computeExitOutputs(readBuild(dir), images, new Int32Array(n).fill(-1), n);
    for (const [r, a] of answers.entries()) {
      const x = table.exits.get(a.exit)!;
      const row = Array.from(x.probs.subarray(r * x.k, (r + 1) * x.k));
      expect(a.classId).toBe(x.classIds[row.indexOf(Math.max(...row))]);
      expect(Math.abs(a.confidence - Math.max(...row))).toBeLessThan(1e-6);
    }
  });

  it.skipIf(!HAS_ONNX)("every file of the export, references included, passes the official ONNX checker", () => {
    const files = ["edge", "edge/reference", "cloud", "cloud/reference"].flatMap((d) => (existsSync(join(dir, d)) ? readdirSync(join(dir, d)).filter((f) => f.endsWith(".onnx")).map((f) => join(dir, d, f)) : []));
    expect(files.length).toBeGreaterThanOrEqual(4);
    const r = spawnSync(PYTHON, ["test/helpers/check_onnx.py", ...files], { encoding: "utf8" });
    expect(r.status, r.stdout + r.stderr).toBe(0);
  });
});
