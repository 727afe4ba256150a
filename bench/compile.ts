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
import { generateSpec } from "./generatedSpec.js";

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
