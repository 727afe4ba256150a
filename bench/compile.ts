/**
 * Times the compiler front end on a large generated spec: parse + lower + every rule and pass,
 * i.e. `compileSource` end to end, in memory (the spec and the std library it imports are read
 * before timing; nothing touches the disk while the clock runs).
 *
 *   node --import tsx bench/compile.ts [--json] [--layers N] [--runs R] [--warmup W]
 *
 * The spec has at least N layers (IR nodes; default 1000) in a realistic mix: conv2d, batchnorm,
 * relu, residual adds through `basic_block` from std/resnet and a local def, max/avg pooling,
 * concat inside a block and across blocks (extension = concat(main, adaptive)), dropout and dense
 * exits, spread over the main, adaptive, extension and cloud blocks. Shapes stay valid: stride-1
 * same-padding convs on a 16×16 input with one 2×2 pooling per block.
 * The figure is the median of R timed runs after W warm-up runs. Under --json the last line of
 * stdout is exactly one JSON object: {"layers", "seconds", "runs", "min", "max"}.
 */
import { readFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { Source } from "../src/diagnostics/index.js";
import { compileSource, type FileSystem } from "../src/ir/pipeline.js";

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "..");

interface Options {
  json: boolean;
  layers: number;
  runs: number;
  warmup: number;
}

function parseArgs(argv: string[]): Options {
  const opts: Options = { json: false, layers: 1000, runs: 20, warmup: 3 };
  const count = (flag: string, v: string | undefined, min: number): number => {
    const n = Number(v);
    if (!Number.isInteger(n) || n < min) throw new Error(`${flag} needs a whole number ≥ ${min}, got ${v ?? "nothing"}`);
    return n;
  };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === "--json") opts.json = true;
    else if (a === "--layers") opts.layers = count(a, argv[++i], 20);
    else if (a === "--runs") opts.runs = count(a, argv[++i], 1);
    else if (a === "--warmup") opts.warmup = count(a, argv[++i], 0);
    else throw new Error(`unknown option ${a} (usage: bench/compile.ts [--json] [--layers N] [--runs R] [--warmup W])`);
  }
  return opts;
}

// ───────────────────────────── the generated spec ─────────────────────────────

/** IR nodes each kind of line adds (basic_block with unchanged channels: conv, bn, relu, conv, bn, add, relu). */
const NODES = { convBnRelu: 3, basicBlock: 7, basicProjected: 9, inception: 7, pool: 1 } as const;

/**
 * Body lines for one block, about `target` nodes long: residual units in a fixed rotation, a
 * repeated unit now and then, an inception-style concat, and one 2×2 pooling halfway.
 */
function blockBody(target: number, channels: number, out: string, pool: "max_pool" | "avg_pool"): { lines: string[]; nodes: number } {
  const lines: string[] = [];
  let nodes = 0;
  let pooled = false;
  let k = 0;
  while (nodes < target) {
    if (!pooled && nodes >= target / 2) {
      lines.push(`  x = ${pool}(x, kernel: 2)`);
      nodes += NODES.pool;
      pooled = true;
      continue;
    }
    switch (k++ % 6) {
      case 0:
      case 2:
      case 4:
        lines.push(`  x = basic_block(x, ${channels})`);
        nodes += NODES.basicBlock;
        break;
      case 1:
        lines.push(`  x = residual(x)`);
        nodes += NODES.basicBlock;
        break;
      case 3:
        // Two branches joined by concat, back to the block's width.
        lines.push(`  a = conv_bn_relu(x, ${channels / 2}, kernel: 1)`, `  b = conv_bn_relu(x, ${channels / 2})`, `  x = concat(a, b)`);
        nodes += NODES.inception;
        break;
      default:
        lines.push(`  x = basic_block(x, ${channels}) x 2`);
        nodes += 2 * NODES.basicBlock;
    }
  }
  if (!pooled) {
    lines.push(`  x = ${pool}(x, kernel: 2)`);
    nodes += NODES.pool;
  }
  lines.push(`  ${out} = basic_block(x, ${channels})`);
  nodes += NODES.basicBlock;
  return { lines, nodes };
}

/** A MEANet spec with at least `layers` IR nodes; returns the text and its estimated node count. */
function generateSpec(layers: number): { text: string; estimate: number } {
  // Share of the layers per block, roughly as in the paper's CIFAR-100 setup: the cloud model and
  // the main block are the big ones.
  const share = { main: 0.4, adaptive: 0.1, extension: 0.15, cloud: 0.35 };
  // Fixed nodes around the bodies: stems (3), the extension's concat + 1×1 (4), exits (gap + dense, + dropout).
  const fixed = { main: 3 + 2, adaptive: 3, extension: 4 + 3, cloud: 3 + 3 };
  const body = (b: keyof typeof share) => Math.max(1, Math.round(layers * share[b]) - fixed[b] - NODES.basicBlock);
  const main = blockBody(body("main"), 32, "features", "max_pool");
  const adaptive = blockBody(body("adaptive"), 16, "out", "avg_pool");
  const extension = blockBody(body("extension"), 32, "y", "max_pool");
  const cloud = blockBody(body("cloud"), 64, "y", "max_pool");
  // extension reads main.features and adaptive.out (both 8×8) and pools once more: 4×4.
  const estimate = main.nodes + adaptive.nodes + extension.nodes + cloud.nodes + Object.values(fixed).reduce((a, b) => a + b, 0);
  const text = `# Generated by bench/compile.ts: about ${layers} layers.
import "std/resnet"

model bench_${layers}
input image: f32[16, 16, 3]
labels 100
objective energy

device edge: edge_int8_45nm {
  link: wifi
}

device cloud: cloud_fp32_45nm {}

def conv_bn_relu(x, filters, kernel = 3) {
  return relu(batchnorm(conv2d(x, filters, kernel: kernel, padding: (kernel - 1) / 2, bias: false)))
}

# A residual unit written out: two 3×3 convolutions and an identity shortcut.
def residual(x) {
  y = conv_bn_relu(x, channels(x))
  y = batchnorm(conv2d(y, channels(x), kernel: 3, padding: 1, bias: false))
  return relu(add(x, y))
}

block main on edge {
  x = conv_bn_relu(image, 32)
${main.lines.join("\n")}
  exit main over all = dense(global_avg_pool(features), num_classes)
}

block adaptive on edge {
  x = conv_bn_relu(image, 16)
${adaptive.lines.join("\n")}
}

block extension on edge {
  x = concat(main.features, adaptive.out)
  x = conv_bn_relu(x, 32, kernel: 1)
${extension.lines.join("\n")}
  exit extension over hard = dense(dropout(global_avg_pool(y), rate: 0.2), num_hard)
}

block cloud on cloud {
  x = conv_bn_relu(image, 64)
${cloud.lines.join("\n")}
  exit cloud over all = dense(dropout(global_avg_pool(y), rate: 0.2), num_classes)
}

complexity {
  hard: lowest_accuracy(main, fraction: 0.5)
}

route {
  cloud when entropy(main) > 0.8
  main when argmax(main) in easy
  extension otherwise
}

train {
  seed: 1
  validation: 0.1
  batch: 128
  optimizer: adam(lr: 0.001)
  stage main { train: [main], data: all, epochs: 1 }
  stage extension { train: [adaptive, extension], freeze: [main], data: hard, epochs: 1 }
  stage cloud { train: [cloud], data: all, epochs: 1 }
}
`;
  return { text, estimate };
}

// ───────────────────────────── measuring ─────────────────────────────

/** The std library read once up front, so the timed runs never touch the disk. */
function memoryFs(): FileSystem {
  const std = new Map<string, string>();
  const stdDir = join(ROOT, "dsl", "std");
  for (const name of ["resnet", "mobilenet"]) std.set(join(stdDir, `${name}.meanet`), readFileSync(join(stdDir, `${name}.meanet`), "utf8"));
  return {
    read: (path) => std.get(path),
    resolve: (_from, spec) => {
      const file = spec.endsWith(".meanet") ? spec : `${spec}.meanet`;
      return file.startsWith("std/") ? join(stdDir, file.slice(4)) : file;
    },
  };
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

function main(): number {
  let opts: Options;
  try {
    opts = parseArgs(process.argv.slice(2));
  } catch (e) {
    console.error((e as Error).message);
    return 2;
  }
  const fs = memoryFs();
  const { text } = generateSpec(opts.layers);
  const compile = () => compileSource(new Source("bench.meanet", text), fs);

  // The spec must be valid and as big as asked, or the figure means nothing.
  const check = compile();
  const errors = check.diagnostics.filter((d) => d.severity === "error");
  if (errors.length > 0 || !check.ir) {
    console.error(`the generated spec does not compile (${errors.length} errors):`);
    for (const d of errors.slice(0, 10)) console.error(`  ${d.code} ${d.span ? `${d.span.source.name}@${d.span.start}` : ""} ${d.message}`);
    return 1;
  }
  const nodes = check.ir.nodes.length;
  if (nodes < opts.layers) {
    console.error(`the generated spec has ${nodes} IR nodes, fewer than the ${opts.layers} asked for`);
    return 1;
  }

  for (let i = 0; i < opts.warmup; i++) compile();
  const times: number[] = [];
  for (let i = 0; i < opts.runs; i++) {
    const t0 = performance.now();
    compile();
    times.push((performance.now() - t0) / 1000);
  }
  const result = { layers: nodes, seconds: round(median(times)), runs: opts.runs, min: round(Math.min(...times)), max: round(Math.max(...times)) };
  const lines = text.split("\n").length;
  const warnings = check.diagnostics.length - errors.length;
  console.log(
    `compile (parse + lower + rules + passes, in memory): ${nodes} IR nodes from a ${lines}-line spec (${(text.length / 1024).toFixed(1)} KiB, ${warnings} warnings) — ` +
      `median ${result.seconds.toFixed(3)} s over ${opts.runs} runs (min ${result.min.toFixed(3)}, max ${result.max.toFixed(3)}) after ${opts.warmup} warm-up runs; ` +
      `Node ${process.versions.node}`,
  );
  if (opts.json) console.log(JSON.stringify(result));
  return 0;
}

function round(s: number): number {
  return Math.round(s * 1e4) / 1e4;
}

process.exitCode = main();
