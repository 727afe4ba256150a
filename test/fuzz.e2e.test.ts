/**
 * Property/fuzz test of the whole front end: whatever text it is given, `compileSource` returns
 * (never throws), reports well-formed diagnostics, produces IR when there are no errors, and
 * finishes each input in under a second of CPU time (the child's own user + system time, so that
 * other work on a shared machine does not count against an input).
 *
 * Inputs come from a seeded PRNG, so a run is reproducible:
 *   MEANET_FUZZ_SEED=0x6d65616e npx vitest run test/fuzz.e2e.test.ts     (the default seed)
 *   MEANET_FUZZ_SEED=<seed> MEANET_FUZZ_ONLY=12,345 npx vitest run test/fuzz.e2e.test.ts
 * Input i depends only on the seed, i and the corpus (examples/*.meanet, dsl/std/*.meanet), so while
 * those files are unchanged `MEANET_FUZZ_ONLY` reruns exactly the failing cases; a failure report
 * also prints the input itself, and `MEANET_FUZZ_DUMP=<file.json>` writes every failing input in full.
 *
 * Each input runs in a child process (two at a time) under a watchdog: an input that hangs or
 * exhausts memory becomes a reported failure for that input instead of hanging or killing the
 * test runner, and the child is restarted after it.
 */
import { spawn } from "node:child_process";
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { availableParallelism, tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { beforeAll, describe, expect, it } from "vitest";

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const DEFAULT_SEED = 0x6d65616e;
const SEED = parseSeed(process.env.MEANET_FUZZ_SEED) ?? DEFAULT_SEED;
/** Set to a file path to also write every failing input, in full, as JSON. */
const DUMP = process.env.MEANET_FUZZ_DUMP;
const ONLY = process.env.MEANET_FUZZ_ONLY?.split(",").map((s) => Number(s.trim())).filter((n) => Number.isInteger(n) && n >= 0);

/** How many inputs of each kind; at least 3,000 in all. */
const COUNTS = { mutation: 2200, grammar: 400, soup: 400, bytes: 400 } as const;
/** CPU time one input may take (user + system time of the child while it compiles that input). */
const PER_INPUT_LIMIT_MS = 1000;
/**
 * An input still running after this long (wall time) is killed and reported as a hang. Far above
 * the CPU limit, so that a child kept off the CPU by other work on a shared machine is not taken
 * for a hang; an input that really loops still ends the run, for that input, within this bound.
 */
const HANG_KILL_MS = 10_000;
/** A bounded heap, so that an input that allocates without bound dies fast instead of eating the machine. */
const CHILD_HEAP_MB = 1024;
/** Stop restarting children after this many hangs or crashes: something is badly wrong. */
const MAX_RESTARTS = 40;
const WORKERS = Math.max(1, Math.min(2, availableParallelism()));

type Kind = "corpus" | "mutation" | "grammar" | "soup" | "bytes" | "pathological";

interface FuzzInput {
  index: number;
  kind: Kind;
  /** The source's file name: a corpus file's real path, so relative and std imports resolve. */
  name: string;
  text: string;
  /** How the input was made, for the failure report. */
  note: string;
}

// ───────────────────────────── PRNG ─────────────────────────────

interface Rng {
  next(): number;
  int(n: number): number;
  range(lo: number, hi: number): number;
  pick<T>(list: readonly T[]): T;
  chance(p: number): boolean;
}

/** mulberry32: tiny, fast, and good enough to spread inputs around. */
function makeRng(seed: number): Rng {
  let a = seed >>> 0;
  const next = () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const int = (n: number) => Math.floor(next() * n);
  return { next, int, range: (lo, hi) => lo + int(hi - lo + 1), pick: (list) => list[int(list.length)]!, chance: (p) => next() < p };
}

/** Each input gets its own stream, derived from the seed and its index only. */
function rngFor(index: number): Rng {
  let h = (SEED ^ Math.imul(index + 1, 0x9e3779b1)) >>> 0;
  h = Math.imul(h ^ (h >>> 16), 0x85ebca6b) >>> 0;
  h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35) >>> 0;
  return makeRng((h ^ (h >>> 16)) >>> 0);
}

function parseSeed(s: string | undefined): number | undefined {
  if (!s) return undefined;
  const n = Number(s);
  return Number.isFinite(n) ? n >>> 0 : undefined;
}

const hex = (n: number) => `0x${n.toString(16)}`;

// ───────────────────────────── vocabulary ─────────────────────────────

const KEYWORDS = [
  "import", "model", "input", "labels", "device", "def", "block", "on", "exit", "over", "return", "if", "else", "complexity",
  "route", "when", "otherwise", "train", "stage", "assert", "objective", "and", "or", "not", "in", "true", "false",
] as const;
const PUNCTUATION = ["{", "}", "(", ")", "[", "]", ",", ":", ".", "=", "==", "!=", "<=", ">=", "<", ">", "+", "-", "*", "/", "%"] as const;
const JUNK = ['"', "#", ";", "@", "$", "\\", "'", "`", "!", "&", "|", "^", "~", "?", "\t", "\r", "\n", "x 3", "x 99999999"] as const;
const OPS = [
  "conv2d", "depthwise_conv2d", "dwconv2d", "batchnorm", "bn", "relu", "relu6", "add", "concat", "max_pool", "avg_pool",
  "global_avg_pool", "gap", "dense", "dropout", "flatten", "softmax", "pad",
] as const;
const STD_DEFS = ["basic_block", "basic_block_a", "bottleneck_block", "imagenet_stem", "inverted_residual", "conv_bn_relu6"] as const;
const NAMES = [
  "image", "x", "y", "features", "out", "main", "adaptive", "extension", "cloud", "edge", "auto", "all", "hard", "easy",
  "num_classes", "num_hard", "num_easy", "channels", "height", "width", "grad", "min", "max", "entropy", "max_prob",
  "margin", "normalized_entropy", "hard_mass", "argmax", "lowest_accuracy", "calibrate", "accuracy", "params", "macs",
  "weights", "cloud_fraction", "kernel", "stride", "padding", "bias", "rate", "same", "valid", "energy", "latency",
  "u8", "f32", "f16", "i8", "edge_int8_45nm", "edge_fp16_45nm", "cloud_fp32_45nm", "wifi", "lte", "adam", "sgd", "cosine",
] as const;
const UNITS = ["B", "KB", "MB", "KiB", "MiB", "GiB", "K", "M", "G", "T", "pJ", "nJ", "mJ", "J", "bps", "Mbps", "ms", "s", "W"] as const;
/** Numbers a mutation swaps in: zero, negatives, fractions, and sizes no network has. */
const WEIRD_NUMBERS = [
  "0", "-1", "-7", "0.5", "1.5", "1e-9", "1e9", "99999999", "2147483648", "4294967297", "9007199254740993", "1e308", "1e999", "00", "65536",
] as const;
const STRINGS = ['"std/resnet"', '"std/mobilenet"', '"std/nope"', '""', '"a"', '"T-shirt/top"', '"../examples/fashion-mnist"', '"\\n\\"\\u00e9"'] as const;

// ───────────────────────────── corpus ─────────────────────────────

interface CorpusFile {
  name: string;
  text: string;
}

function readCorpus(): CorpusFile[] {
  const files: CorpusFile[] = [];
  for (const dir of ["examples", "dsl/std"]) {
    const abs = join(ROOT, dir);
    for (const f of readdirSync(abs).filter((f) => f.endsWith(".meanet")).sort()) files.push({ name: join(abs, f), text: readFileSync(join(abs, f), "utf8") });
  }
  // Examples with their std imports pasted in, so mutations also reach the bodies of the defs.
  const std = new Map(files.filter((f) => f.name.includes(`${join("dsl", "std")}`)).map((f) => [f.name.replace(/^.*[\\/]/, "").replace(/\.meanet$/, ""), f.text]));
  for (const f of files.filter((f) => f.name.includes(`${join(ROOT, "examples")}`))) {
    const inlined = f.text.replace(/^import "std\/(\w+)"\s*$/gm, (line, name: string) => std.get(name) ?? line);
    if (inlined !== f.text) files.push({ name: f.name.replace(/\.meanet$/, ".inlined.meanet"), text: inlined });
  }
  return files;
}

// ───────────────────────────── mutations ─────────────────────────────

const TOKEN_RE = /"(?:[^"\\\n]|\\.)*"|#[^\n]*|[A-Za-z_][A-Za-z0-9_]*|[0-9]+(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?|==|!=|<=|>=|\s+|[^]/g;

interface Token {
  text: string;
  start: number;
}

function tokens(text: string): Token[] {
  return [...text.matchAll(TOKEN_RE)].map((m) => ({ text: m[0], start: m.index! }));
}

const isWord = (t: string) => /^[A-Za-z_]/.test(t);
const isNumber = (t: string) => /^[0-9]/.test(t);
const isBlank = (t: string) => /^\s/.test(t);

function splice(text: string, start: number, end: number, insert: string): string {
  return text.slice(0, start) + insert + text.slice(end);
}

function randomLanguageToken(r: Rng): string {
  switch (r.int(8)) {
    case 0:
    case 1:
      return r.pick(KEYWORDS);
    case 2:
      return r.pick(PUNCTUATION);
    case 3:
      return r.pick(OPS);
    case 4:
      return r.pick(NAMES);
    case 5:
      return r.chance(0.5) ? String(r.range(0, 300)) : r.pick(WEIRD_NUMBERS);
    case 6:
      return r.chance(0.5) ? r.pick(UNITS) : r.pick(STRINGS);
    default:
      return r.pick(JUNK);
  }
}

function randomChar(r: Rng): string {
  switch (r.int(4)) {
    case 0:
      return String.fromCharCode(r.range(32, 126));
    case 1:
      return r.pick([...PUNCTUATION, ...JUNK]);
    case 2:
      return String.fromCharCode(r.int(32));
    default:
      return r.pick(["é", "λ", "→", "×", "\u00a0", "\u2028", "\ufeff", "\u200b", "\u202e", "😀", "\ud800", "\udfff", "\u0000", "\u007f", "Ω"]);
  }
}

type Mutation = (text: string, r: Rng) => { text: string; note: string };

const MUTATIONS: { name: string; weight: number; run: Mutation }[] = [
  { name: "delete char", weight: 3, run: (t, r) => { const i = r.int(t.length); return { text: splice(t, i, i + 1, ""), note: `delete char @${i}` }; } },
  { name: "insert char", weight: 3, run: (t, r) => { const i = r.int(t.length + 1); const c = randomChar(r); return { text: splice(t, i, i, c), note: `insert ${JSON.stringify(c)} @${i}` }; } },
  { name: "duplicate char", weight: 2, run: (t, r) => { const i = r.int(t.length); return { text: splice(t, i, i, t.charAt(i)), note: `duplicate char @${i}` }; } },
  {
    name: "swap chars", weight: 2, run: (t, r) => {
      const i = r.int(t.length), j = r.int(t.length);
      const [a, b] = [Math.min(i, j), Math.max(i, j)];
      if (a === b) return { text: t, note: "swap chars (no-op)" };
      return { text: t.slice(0, a) + t.charAt(b) + t.slice(a + 1, b) + t.charAt(a) + t.slice(b + 1), note: `swap chars @${a},${b}` };
    },
  },
  { name: "delete line", weight: 3, run: (t, r) => { const ls = t.split("\n"); const i = r.int(ls.length); ls.splice(i, 1); return { text: ls.join("\n"), note: `delete line ${i + 1}` }; } },
  { name: "duplicate line", weight: 3, run: (t, r) => { const ls = t.split("\n"); const i = r.int(ls.length); const j = r.int(ls.length + 1); ls.splice(j, 0, ls[i]!); return { text: ls.join("\n"), note: `copy line ${i + 1} to ${j + 1}` }; } },
  {
    name: "swap lines", weight: 3, run: (t, r) => {
      const ls = t.split("\n"); const i = r.int(ls.length), j = r.int(ls.length);
      [ls[i], ls[j]] = [ls[j]!, ls[i]!];
      return { text: ls.join("\n"), note: `swap lines ${i + 1},${j + 1}` };
    },
  },
  {
    name: "delete tokens", weight: 3, run: (t, r) => {
      const ts = tokens(t).filter((x) => !isBlank(x.text)); if (!ts.length) return { text: t, note: "delete token (none)" };
      const a = r.int(ts.length), n = r.chance(0.7) ? 1 : r.range(2, 8); const b = ts[Math.min(ts.length - 1, a + n - 1)]!;
      return { text: splice(t, ts[a]!.start, b.start + b.text.length, ""), note: `delete ${n} token(s) from @${ts[a]!.start}` };
    },
  },
  {
    name: "insert token", weight: 4, run: (t, r) => {
      const ts = tokens(t); const at = ts.length ? r.pick(ts).start : 0; const tok = randomLanguageToken(r);
      return { text: splice(t, at, at, r.chance(0.5) ? ` ${tok} ` : tok), note: `insert ${JSON.stringify(tok)} @${at}` };
    },
  },
  {
    name: "duplicate tokens", weight: 2, run: (t, r) => {
      const ts = tokens(t); if (!ts.length) return { text: t, note: "duplicate (none)" };
      const a = r.int(ts.length), b = Math.min(ts.length - 1, a + r.int(10)); const piece = t.slice(ts[a]!.start, ts[b]!.start + ts[b]!.text.length);
      return { text: splice(t, ts[b]!.start + ts[b]!.text.length, ts[b]!.start + ts[b]!.text.length, piece), note: `duplicate ${JSON.stringify(piece.slice(0, 40))}` };
    },
  },
  {
    name: "swap tokens", weight: 3, run: (t, r) => {
      const ts = tokens(t).filter((x) => !isBlank(x.text)); if (ts.length < 2) return { text: t, note: "swap tokens (none)" };
      let i = r.int(ts.length), j = r.chance(0.5) ? Math.min(ts.length - 1, i + 1) : r.int(ts.length);
      if (i > j) [i, j] = [j, i];
      if (i === j) return { text: t, note: "swap tokens (no-op)" };
      const a = ts[i]!, b = ts[j]!;
      return { text: t.slice(0, a.start) + b.text + t.slice(a.start + a.text.length, b.start) + a.text + t.slice(b.start + b.text.length), note: `swap ${JSON.stringify(a.text)}@${a.start} with ${JSON.stringify(b.text)}@${b.start}` };
    },
  },
  {
    name: "replace number", weight: 5, run: (t, r) => {
      const ns = tokens(t).filter((x) => isNumber(x.text)); if (!ns.length) return { text: t, note: "replace number (none)" };
      const n = r.pick(ns), v = r.pick(WEIRD_NUMBERS);
      return { text: splice(t, n.start, n.start + n.text.length, v), note: `number ${n.text}@${n.start} → ${v}` };
    },
  },
  {
    name: "replace all numbers", weight: 1, run: (t, r) => {
      const v = r.pick(WEIRD_NUMBERS);
      return { text: t.replace(/\b[0-9]+(?:\.[0-9]+)?\b/g, v), note: `every number → ${v}` };
    },
  },
  {
    name: "repetition count", weight: 1, run: (t, r) => {
      const v = r.pick(WEIRD_NUMBERS);
      const reps = [...t.matchAll(/\)([ \t]+)x[ \t]+([0-9]+)/g)];
      if (reps.length && r.chance(0.7)) {
        const m = r.pick(reps); const at = m.index! + m[0].length - m[2]!.length;
        return { text: splice(t, at, at + m[2]!.length, v), note: `repetition count ${m[2]}@${at} → ${v}` };
      }
      // No `x N` here (or not chosen): repeat a call assignment.
      const calls = [...t.matchAll(/^[ \t]*\w+ = \w+\(.*\)[ \t]*$/gm)];
      if (!calls.length) return { text: t, note: "repetition (none)" };
      const m = r.pick(calls); const at = m.index! + m[0].trimEnd().length;
      return { text: splice(t, at, at, ` x ${v}`), note: `append \`x ${v}\` to line @${m.index}` };
    },
  },
  {
    name: "shape", weight: 3, run: (t, r) => {
      const m = /(input\s+\w+\s*:\s*\w+\s*)\[([^\]\n]*)\]/.exec(t);
      if (!m) return { text: t, note: "shape (none)" };
      const dims = m[2]!.split(",").map((d) => d.trim());
      const choice = r.int(4);
      let next: string[];
      if (choice === 0) next = dims.map((d) => (r.chance(0.5) ? r.pick(WEIRD_NUMBERS) : d));
      else if (choice === 1) next = dims.map(() => r.pick(["1", "2", "3", "7", "1e9", "99999999"]));
      else if (choice === 2) next = dims.slice(0, r.int(dims.length + 1));
      else next = [...dims, r.pick(WEIRD_NUMBERS)];
      const at = m.index! + m[1]!.length;
      return { text: splice(t, at, at + m[2]!.length + 2, `[${next.join(", ")}]`), note: `input shape [${m[2]}] → [${next.join(", ")}]` };
    },
  },
  { name: "truncate", weight: 4, run: (t, r) => { const i = r.int(t.length + 1); return { text: t.slice(0, i), note: `truncate at ${i}` }; } },
  {
    name: "insert keyword", weight: 3, run: (t, r) => {
      const ts = tokens(t); const at = ts.length ? r.pick(ts).start : 0; const k = r.chance(0.6) ? r.pick(KEYWORDS) : r.pick([...PUNCTUATION, ...JUNK]);
      return { text: splice(t, at, at, ` ${k} `), note: `insert keyword ${JSON.stringify(k)} @${at}` };
    },
  },
  {
    name: "swap identifiers", weight: 4, run: (t, r) => {
      const words = [...new Set(tokens(t).map((x) => x.text).filter(isWord))];
      if (words.length < 2) return { text: t, note: "swap identifiers (none)" };
      const a = r.pick(words), b = r.pick(words);
      if (r.chance(0.5)) {
        const occ = tokens(t).filter((x) => x.text === a); const o = r.pick(occ);
        return { text: splice(t, o.start, o.start + a.length, b), note: `identifier ${a}@${o.start} → ${b}` };
      }
      const re = new RegExp(`\\b(${a}|${b})\\b`, "g");
      return { text: t.replace(re, (w) => (w === a ? b : a)), note: `swap every ${a} with ${b}` };
    },
  },
  {
    name: "cut or copy range", weight: 2, run: (t, r) => {
      const a = r.int(t.length + 1), b = Math.min(t.length, a + r.int(300)); const piece = t.slice(a, b);
      if (r.chance(0.5)) return { text: splice(t, a, b, ""), note: `cut [${a},${b})` };
      const at = r.int(t.length + 1);
      return { text: splice(t, at, at, piece), note: `copy [${a},${b}) to ${at}` };
    },
  },
];
const MUTATION_WEIGHT = MUTATIONS.reduce((s, m) => s + m.weight, 0);

function pickMutation(r: Rng): (typeof MUTATIONS)[number] {
  let w = r.int(MUTATION_WEIGHT);
  for (const m of MUTATIONS) if ((w -= m.weight) < 0) return m;
  return MUTATIONS[0]!;
}

function mutate(file: CorpusFile, r: Rng): { text: string; note: string } {
  let text = file.text;
  const notes: string[] = [];
  const n = r.chance(0.55) ? 1 : r.chance(0.6) ? 2 : r.range(3, 6);
  for (let k = 0; k < n; k++) {
    const m = pickMutation(r);
    const out = m.run(text, r);
    text = out.text;
    notes.push(out.note);
  }
  return { text, note: notes.join("; ") };
}

// ───────────────────────────── grammar-shaped random specs ─────────────────────────────

function genNumber(r: Rng, nice: readonly number[]): string {
  return r.chance(0.85) ? String(r.pick(nice)) : r.pick(WEIRD_NUMBERS);
}

function genTensorExpr(r: Rng, vars: string[], blocks: string[], depth: number): string {
  const v = () => (r.chance(0.1) && blocks.length ? `${r.pick(blocks)}.${r.pick(["features", "out", "x", "y"])}` : r.chance(0.05) ? r.pick(NAMES) : r.pick(vars));
  const arg = () => (depth > 0 && r.chance(0.4) ? genTensorExpr(r, vars, blocks, depth - 1) : v());
  const ch = () => genNumber(r, [8, 16, 32, 64, 128]);
  switch (r.int(14)) {
    case 0:
      return `conv2d(${arg()}, ${ch()}${r.chance(0.6) ? `, kernel: ${genNumber(r, [1, 3, 5])}` : ""}${r.chance(0.4) ? `, stride: ${genNumber(r, [1, 2])}` : ""}${r.chance(0.5) ? `, padding: ${r.pick(["same", "valid", "0", "1", "2"])}` : ""}${r.chance(0.3) ? `, bias: ${r.pick(["true", "false", "1"])}` : ""})`;
    case 1:
      return `${r.pick(["batchnorm", "bn"])}(${arg()})`;
    case 2:
      return `${r.pick(["relu", "relu6", "softmax", "flatten"])}(${arg()})`;
    case 3:
      return `${r.pick(["max_pool", "avg_pool"])}(${arg()}${r.chance(0.7) ? `, kernel: ${genNumber(r, [2, 3])}` : ""}${r.chance(0.3) ? `, stride: ${genNumber(r, [1, 2])}` : ""})`;
    case 4:
      return `${r.pick(["global_avg_pool", "gap"])}(${arg()})`;
    case 5:
      return `dense(${arg()}, ${r.chance(0.5) ? r.pick(["num_classes", "num_hard", "num_easy"]) : genNumber(r, [10, 100])})`;
    case 6:
      return `add(${arg()}, ${arg()})`;
    case 7:
      return `concat(${arg()}, ${arg()}${r.chance(0.2) ? `, ${arg()}` : ""})`;
    case 8:
      return `dropout(${arg()}, rate: ${genNumber(r, [0.1, 0.2, 0.5])})`;
    case 9:
      return `${r.pick(["depthwise_conv2d", "dwconv2d"])}(${arg()}${r.chance(0.5) ? `, stride: ${genNumber(r, [1, 2])}` : ""})`;
    case 10:
      return `${r.pick(STD_DEFS)}(${arg()}, ${ch()}${r.chance(0.4) ? `, stride: ${genNumber(r, [1, 2])}` : ""})`;
    case 11:
      return `${r.pick(["grad", "channels", "height", "width"])}(${arg()})`;
    case 12:
      return r.chance(0.5) ? `f${r.int(3)}(${arg()})` : `${arg()}`;
    default:
      return `relu(batchnorm(conv2d(${arg()}, ${ch()}, kernel: 3, padding: 1, bias: false)))`;
  }
}

function genStatements(r: Rng, vars: string[], blocks: string[], inDef: boolean, depth: number): string[] {
  const out: string[] = [];
  const n = r.range(0, 7);
  for (let k = 0; k < n; k++) {
    const roll = r.int(10);
    if (roll < 6) {
      const target = r.pick(["x", "y", "z", "features", "out", "shortcut", r.pick(NAMES)]);
      const rep = r.chance(0.15) ? ` x ${genNumber(r, [1, 2, 3, 5])}` : "";
      out.push(`${target} = ${genTensorExpr(r, vars, blocks, 2)}${rep}`);
      if (!vars.includes(target)) vars.push(target);
    } else if (roll < 7 && depth > 0) {
      const cond = r.pick(["stride != 1", "channels(x) != filters", `channels(${r.pick(vars)}) == ${genNumber(r, [16, 64])}`, "true", "not false", "stride == 1 and channels(x) == filters"]);
      const otherwise = r.chance(0.3) ? ` else { ${genStatements(r, vars, blocks, inDef, depth - 1).join("\n")} }` : "";
      out.push(`if ${cond} {\n${genStatements(r, vars, blocks, inDef, depth - 1).join("\n")}\n}${otherwise}`);
    } else if (roll < 9 && !inDef) {
      const over = r.pick(["all", "hard", "easy", '["a", "b"]', "x"]);
      out.push(`exit ${r.pick(["main", "extension", "cloud", "edge", "extra"])} over ${over} = dense(gap(${r.pick(vars)}), ${r.pick(["num_classes", "num_hard", "10", "0"])})`);
    } else {
      out.push(`return ${genTensorExpr(r, vars, blocks, 1)}`);
    }
  }
  return out;
}

function genSpec(r: Rng): string {
  const items: string[] = [];
  const blocks = ["main", "adaptive", "extension", "cloud", "b1"].filter(() => r.chance(0.7));
  if (r.chance(0.5)) items.push(`import ${r.pick(STRINGS)}`);
  if (r.chance(0.9)) items.push(`model ${r.pick(["m", "net", "model", "x_1", "main"])}`);
  if (r.chance(0.9)) {
    const dims = r.chance(0.8) ? [genNumber(r, [8, 16, 28, 32]), genNumber(r, [8, 16, 28, 32]), genNumber(r, [1, 3])] : Array.from({ length: r.int(5) }, () => genNumber(r, [1, 4, 10]));
    items.push(`input image: ${r.pick(["u8", "f32", "f16", "i8", "uint8", "bogus"])}[${dims.join(", ")}]`);
  }
  if (r.chance(0.9)) items.push(r.chance(0.7) ? `labels ${r.chance(0.96) ? r.pick([2, 4, 10, 100]) : r.pick(WEIRD_NUMBERS)}` : `labels [${Array.from({ length: r.int(6) }, () => r.pick(STRINGS)).join(", ")}]`);
  if (r.chance(0.6)) items.push(`device edge${r.chance(0.7) ? `: ${r.pick(["edge_int8_45nm", "edge_fp16_45nm", "nope"])}` : ""} {\n${r.chance(0.5) ? "  link: wifi\n" : ""}${r.chance(0.5) ? `  weight_memory: ${genNumber(r, [1, 2, 16])} ${r.pick(UNITS)}\n` : ""}${r.chance(0.3) ? `  macs: ${genNumber(r, [20, 300])} M\n` : ""}}`);
  if (r.chance(0.4)) items.push(`device cloud: cloud_fp32_45nm {}`);
  for (let k = 0, n = r.int(3); k < n; k++) {
    const params = ["x", "filters", "stride = 1"].slice(0, r.range(1, 3));
    items.push(`def f${k}(${params.join(", ")}) {\n${genStatements(r, ["x", "y"], [], true, 2).join("\n")}\n}`);
  }
  for (const b of blocks) {
    const vars = ["image"];
    items.push(`block ${b} on ${r.chance(0.9) ? r.pick(["edge", "edge", "cloud", "auto"]) : "moon"} {\n${genStatements(r, vars, blocks.filter((x) => x !== b), false, 2).join("\n")}\n}`);
  }
  if (r.chance(0.5)) items.push(`complexity {\n  hard: ${r.pick(["lowest_accuracy(main, fraction: 0.5)", `lowest_accuracy(main, count: ${genNumber(r, [1, 5])})`, '["a"]', "7"])}\n}`);
  if (r.chance(0.7)) {
    const rules = Array.from({ length: r.range(0, 4) }, () =>
      r.pick([`cloud when entropy(main) > ${genNumber(r, [0.8, 0.5])}`, "main when argmax(main) in easy", "extension otherwise", "main when max_prob(main) >= max_prob(extension)", `cloud when margin(main) < calibrate(cloud_fraction: 0.2)`, "nowhere otherwise", "main when 1 > 2"]),
    );
    items.push(`route {\n${rules.join("\n")}\n}`);
  }
  if (r.chance(0.4)) items.push(`train {\n  seed: ${genNumber(r, [0, 1])}\n  ${r.chance(0.5) ? "optimizer: adam(lr: 0.001)" : "schedule: cosine"}\n  stage main { train: [${blocks.slice(0, 2).join(", ")}], data: ${r.pick(["all", "hard", "none"])}, epochs: ${genNumber(r, [1, 8])} }\n}`);
  for (let k = 0, n = r.int(3); k < n; k++) items.push(`assert ${r.pick(["edge.weights <= 2 MiB", "edge.macs <= 20 M", "main.accuracy >= 0.9", "cloud_fraction <= 0.25", "main.params == 3", "nothing > 1"])}`);
  if (r.chance(0.5)) items.push(`objective ${r.pick(["energy", "latency", "speed"])}`);
  if (r.chance(0.2)) items.sort(() => r.next() - 0.5);
  return items.join("\n") + "\n";
}

// ───────────────────────────── token soup and bytes ─────────────────────────────

function genSoup(r: Rng): string {
  const n = r.range(0, 300);
  const parts: string[] = [];
  for (let k = 0; k < n; k++) parts.push(randomLanguageToken(r), r.pick([" ", " ", " ", "", "\n", "\t"]));
  return parts.join("");
}

function genBytes(r: Rng): { text: string; note: string } {
  const n = r.range(0, 2000);
  const mode = r.int(4);
  if (mode === 0) {
    // UTF-16 code units of any value, lone surrogates included.
    return { text: Array.from({ length: n }, () => String.fromCharCode(r.int(0x10000))).join(""), note: "random UTF-16 code units" };
  }
  const bytes = Buffer.from(Array.from({ length: n }, () => (r.chance(0.3) ? r.int(32) : r.int(256))));
  if (mode === 1) return { text: bytes.toString("utf8"), note: "random bytes as UTF-8" };
  if (mode === 2) return { text: bytes.toString("latin1"), note: "random bytes as Latin-1" };
  // Mostly ASCII spec-ish text with control characters and non-ASCII sprinkled in.
  const chars: string[] = [];
  for (let k = 0; k < n; k++) chars.push(r.chance(0.15) ? randomChar(r) : r.chance(0.2) ? r.pick([" ", "\n", "{", "}", "(", ")"]) : String.fromCharCode(r.range(97, 122)));
  return { text: chars.join(""), note: "letters with control and non-ASCII characters" };
}

/** A few inputs no random walk is likely to reach: deep nesting, very long lines, odd encodings. */
function pathologicalInputs(corpus: CorpusFile[]): { text: string; note: string; name?: string }[] {
  const ex = corpus.find((f) => f.name.endsWith("fashion-mnist.meanet")) ?? corpus[0]!;
  const head = "model m\ninput image: u8[8, 8, 1]\nlabels 2\n";
  return [
    { text: "", note: "empty" },
    { text: "\ufeff" + ex.text, note: "byte order mark before a real spec", name: ex.name },
    { text: ex.text.replace(/\n/g, "\r\n"), note: "CRLF line ends", name: ex.name },
    { text: ex.text.replace(/\n/g, "\r"), note: "CR line ends", name: ex.name },
    { text: ex.text + "\0", note: "trailing NUL", name: ex.name },
    { text: `${head}labels ${"(".repeat(100)}2${")".repeat(100)}`, note: "100 nested parentheses" },
    { text: `${head}assert ${"(".repeat(1000)}1${")".repeat(1000)} > 0`, note: "1000 nested parentheses" },
    { text: `${head}assert ${"[".repeat(400)}${"]".repeat(400)} > 0`, note: "400 nested brackets" },
    { text: `${head}assert ${"-".repeat(5000)}1 > 0`, note: "5000 unary minus signs" },
    { text: `${head}assert ${"not ".repeat(5000)}true`, note: "5000 `not`s" },
    { text: `${head}block main on edge {\n  exit main over all = dense(gap(image), ${Array.from({ length: 2000 }, () => "1").join(" + ")})\n}`, note: "a 2000-term sum" },
    { text: `model ${"a".repeat(100_000)}`, note: "a 100,000-character identifier" },
    { text: `${head}labels [${Array.from({ length: 5000 }, (_, i) => `"c${i}"`).join(", ")}]`, note: "5000 labels" },
    { text: `${head}block main on edge {\n${"  x = relu(image)\n".repeat(2000)}  exit main over all = dense(gap(x), num_classes)\n}`, note: "2000 statements in a block" },
  ];
}

// ───────────────────────────── all inputs ─────────────────────────────

function buildInputs(): FuzzInput[] {
  const corpus = readCorpus();
  const inputs: FuzzInput[] = [];
  const push = (kind: Kind, name: string, text: string, note: string) => inputs.push({ index: inputs.length, kind, name, text, note });
  for (const f of corpus) push("corpus", f.name, f.text, "unchanged");
  for (const p of pathologicalInputs(corpus)) push("pathological", p.name ?? join(ROOT, "fuzz.meanet"), p.text, p.note);
  const plan: [Kind, number][] = [["mutation", COUNTS.mutation], ["grammar", COUNTS.grammar], ["soup", COUNTS.soup], ["bytes", COUNTS.bytes]];
  for (const [kind, count] of plan) {
    for (let k = 0; k < count; k++) {
      const r = rngFor(inputs.length);
      if (kind === "mutation") {
        const f = r.pick(corpus);
        const m = mutate(f, r);
        push(kind, f.name, m.text, `${f.name.slice(ROOT.length + 1)}: ${m.note}`);
      } else if (kind === "grammar") push(kind, join(ROOT, "examples", "fuzz.meanet"), genSpec(r), "grammar-shaped random spec");
      else if (kind === "soup") push(kind, join(ROOT, "examples", "fuzz.meanet"), genSoup(r), "random token soup");
      else {
        const b = genBytes(r);
        push(kind, join(ROOT, "fuzz.meanet"), b.text, b.note);
      }
    }
  }
  return inputs;
}

// ───────────────────────────── running in child processes ─────────────────────────────

interface SpanReport {
  known: boolean;
  start: unknown;
  end: unknown;
  length: number;
}

interface DiagnosticReport {
  code: unknown;
  severity: unknown;
  message: unknown;
  span: SpanReport | null;
  related: (SpanReport | null)[];
}

type Outcome =
  | { status: "done"; ms: number; threw?: string; isArray: boolean; hasIr: boolean; diagnostics: DiagnosticReport[] }
  | { status: "killed"; reason: string };

/**
 * The child: imports the compiler through tsx, warms up, says "ready", then compiles the inputs it
 * is given one by one, telling the parent before each one starts, so that the parent knows which
 * input hung or crashed.
 */
const CHILD_SOURCE = `
import { readFileSync } from "node:fs";
import { pathToFileURL } from "node:url";
const root = process.env.MEANET_FUZZ_ROOT;
const url = (p) => pathToFileURL(root + "/" + p).href;
const { compileSource } = await import(url("src/ir/pipeline.ts"));
const { Source } = await import(url("src/diagnostics/index.ts"));
const { nodeFs } = await import(url("src/toolchain/fs.ts"));
const cache = new Map();
const fs = {
  read(p) { if (!cache.has(p)) cache.set(p, nodeFs.read(p)); return cache.get(p); },
  resolve: (from, spec) => nodeFs.resolve(from, spec),
};
const inputs = JSON.parse(readFileSync(process.env.MEANET_FUZZ_INPUTS, "utf8"));
// Warm up, so that the first input is not charged for loading and JIT compilation.
const warm = inputs.find((x) => x.kind === "corpus") ?? inputs[0];
for (let k = 0; k < 3; k++) compileSource(new Source(warm.name, warm.text), fs);
const send = (m) => new Promise((ok) => process.send(m, ok));
const spanReport = (s, sources) => s === undefined || s === null ? null : {
  known: sources.includes(s.source), start: s.start, end: s.end, length: typeof s.source?.text === "string" ? s.source.text.length : -1,
};
process.once("message", async (indices) => {
  for (const i of indices) {
    const input = inputs[i];
    await send({ t: "start", i });
    let result, threw;
    const t0 = process.cpuUsage();
    try {
      result = compileSource(new Source(input.name, input.text), fs);
    } catch (e) {
      threw = String((e && e.stack) || e).split("\\n").slice(0, 8).join("\\n");
    }
    const cpu = process.cpuUsage(t0);
    const ms = (cpu.user + cpu.system) / 1000;
    const diags = result && Array.isArray(result.diagnostics) ? result.diagnostics : [];
    const sources = result && Array.isArray(result.sources) ? result.sources : [];
    await send({
      t: "done", i, ms, threw,
      isArray: !!result && Array.isArray(result.diagnostics),
      hasIr: !!result && result.ir !== undefined,
      diagnostics: diags.map((d) => ({
        code: d.code, severity: d.severity,
        message: typeof d.message === "string" ? d.message.slice(0, 300) : d.message,
        span: spanReport(d.span, sources),
        related: Array.isArray(d.related) ? d.related.map((r) => spanReport(r.span, sources)) : [],
      })),
    });
  }
  process.disconnect();
});
await send({ t: "ready" });
`;

type ChildMessage = { t: "ready" } | { t: "start"; i: number } | ({ t: "done"; i: number } & Outcome);

interface Child {
  kill(): void;
  /** Resolves with undefined once the child is ready, or with why it could not start. */
  ready: Promise<string | undefined>;
  run(indices: number[], onMessage: (m: ChildMessage) => void, onExit: (why: string) => void): void;
}

/** Starts a child; it loads the compiler and warms up while the previous one is still working. */
function startChild(file: string): Child {
  const proc = spawn(process.execPath, [`--max-old-space-size=${CHILD_HEAP_MB}`, "--import", "tsx", "--input-type=module", "-e", CHILD_SOURCE], {
    cwd: ROOT,
    env: { ...process.env, MEANET_FUZZ_ROOT: ROOT, MEANET_FUZZ_INPUTS: file },
    stdio: ["ignore", "ignore", "pipe", "ipc"],
  });
  let stderr = "";
  proc.stderr!.on("data", (d: Buffer) => {
    stderr = (stderr + d.toString()).slice(-4000);
  });
  let onMessage: (m: ChildMessage) => void = () => {};
  let onExit: (why: string) => void = () => {};
  const died = (code: number | null, signal: string | null) =>
    `child process died (exit code ${code}, signal ${signal}) — out of memory or a fatal error:\n${stderr.trim().split("\n").slice(-6).join("\n")}`;
  const ready = new Promise<string | undefined>((settle) => {
    proc.on("message", (m: ChildMessage) => (m.t === "ready" ? settle(undefined) : onMessage(m)));
    proc.on("error", (e) => {
      settle(`could not start the child: ${e.message}`);
      onExit(`could not start the child: ${e.message}`);
    });
    proc.on("exit", (code, signal) => {
      settle(died(code, signal));
      onExit(code === 0 ? "" : died(code, signal));
    });
  });
  return {
    kill: () => proc.kill("SIGKILL"),
    ready,
    run(indices, m, e) {
      onMessage = m;
      onExit = e;
      proc.send(indices);
    },
  };
}

/** Runs one shard of inputs; replaces the child after a hang or crash with a warm spare and moves on. */
async function runShard(file: string, indices: number[], outcomes: Map<number, Outcome>, restarts: { count: number }): Promise<void> {
  let position = 0;
  let spare = startChild(file);
  try {
    while (position < indices.length) {
      if (restarts.count > MAX_RESTARTS) {
        for (const i of indices.slice(position)) outcomes.set(i, { status: "killed", reason: `not run: more than ${MAX_RESTARTS} hangs or crashes before it` });
        return;
      }
      const child = spare;
      spare = startChild(file);
      const failedToStart = await child.ready;
      const stopped = failedToStart
        ? { at: undefined, reason: failedToStart }
        : await new Promise<{ at: number | undefined; reason: string }>((settle) => {
            let current: number | undefined;
            let startedAt = 0;
            let settled = false;
            const finish = (reason: string) => {
              if (settled) return;
              settled = true;
              clearInterval(watchdog);
              settle({ at: current, reason });
            };
            const watchdog = setInterval(() => {
              if (current !== undefined && performance.now() - startedAt > HANG_KILL_MS) {
                child.kill();
                finish(`did not finish within ${HANG_KILL_MS} ms (hang or runaway work): killed`);
              }
            }, 50);
            child.run(
              indices.slice(position),
              (m) => {
                if (m.t === "start") {
                  current = m.i;
                  startedAt = performance.now();
                } else if (m.t === "done") {
                  const { t: _t, i: index, ...rest } = m;
                  outcomes.set(index, { ...rest, status: "done" } as Outcome);
                  current = undefined;
                  position++;
                }
              },
              finish,
            );
          });
      if (stopped.at !== undefined) {
        outcomes.set(stopped.at, { status: "killed", reason: stopped.reason });
        position = indices.indexOf(stopped.at) + 1;
        restarts.count++;
      } else if (stopped.reason) {
        // The child failed outside any input (e.g. it could not load the compiler): charge the next input.
        outcomes.set(indices[position]!, { status: "killed", reason: stopped.reason });
        position++;
        restarts.count++;
      }
    }
  } finally {
    spare.kill();
  }
}

// ───────────────────────────── properties ─────────────────────────────

const CODE_RE = /^MN[1-5]\d{3}$/;
const SEVERITIES = new Set(["error", "warning", "info"]);

function spanProblem(s: SpanReport | null, what: string): string | undefined {
  if (s === null) return undefined;
  if (!s.known) return `${what} points into a source that is not the input or one of its imports`;
  const { start, end, length } = s;
  if (typeof start !== "number" || typeof end !== "number" || !Number.isInteger(start) || !Number.isInteger(end)) return `${what} has non-integer offsets ${String(start)}..${String(end)}`;
  if (start < 0 || start > end || end > length) return `${what} [${start}, ${end}) lies outside the source text (length ${length})`;
  return undefined;
}

function violations(outcome: Outcome | undefined): string[] {
  if (!outcome) return ["no result recorded"];
  if (outcome.status === "killed") return [outcome.reason];
  const out: string[] = [];
  if (outcome.threw) out.push(`compileSource threw:\n${outcome.threw}`);
  if (outcome.ms >= PER_INPUT_LIMIT_MS) out.push(`took ${outcome.ms.toFixed(0)} ms of CPU time (limit ${PER_INPUT_LIMIT_MS} ms)`);
  if (outcome.threw) return out;
  if (!outcome.isArray) out.push("`diagnostics` is not an array");
  let errors = 0;
  for (const d of outcome.diagnostics) {
    const label = `diagnostic ${JSON.stringify(d.code)} ${JSON.stringify(typeof d.message === "string" ? d.message.slice(0, 80) : d.message)}`;
    if (typeof d.code !== "string" || !CODE_RE.test(d.code)) out.push(`${label}: code does not match ${CODE_RE}`);
    if (typeof d.severity !== "string" || !SEVERITIES.has(d.severity)) out.push(`${label}: bad severity ${JSON.stringify(d.severity)}`);
    if (typeof d.message !== "string" || d.message.trim() === "") out.push(`${label}: empty message`);
    const sp = spanProblem(d.span, "span");
    if (sp) out.push(`${label}: ${sp}`);
    d.related.forEach((rs, k) => {
      const rp = spanProblem(rs, `related[${k}] span`);
      if (rp) out.push(`${label}: ${rp}`);
    });
    if (d.severity === "error") errors++;
  }
  if (errors === 0 && !outcome.hasIr) out.push("no error diagnostics, but `ir` is undefined");
  return out;
}

function preview(text: string, max = 600): string {
  const shown = JSON.stringify(text.length > max ? text.slice(0, max) : text);
  return text.length > max ? `${shown} … (${text.length} chars in all)` : shown;
}

function report(inputs: FuzzInput[], outcomes: Map<number, Outcome>, kinds: Kind[]): { failures: number; text: string } {
  const failing = inputs.filter((x) => kinds.includes(x.kind)).map((x) => ({ x, problems: violations(outcomes.get(x.index)) })).filter((f) => f.problems.length > 0);
  if (DUMP && failing.length) {
    const prior: unknown[] = existsSync(DUMP) ? (JSON.parse(readFileSync(DUMP, "utf8")) as unknown[]) : [];
    writeFileSync(DUMP, JSON.stringify([...prior, ...failing.map(({ x, problems }) => ({ seed: hex(SEED), ...x, problems, ms: (outcomes.get(x.index) as { ms?: number } | undefined)?.ms }))], null, 1));
  }
  const shown = failing.slice(0, 15).map(({ x, problems }) =>
    [
      `• input #${x.index} (${x.kind}; ${x.note.slice(0, 300)}) — seed ${hex(SEED)}`,
      `  rerun: MEANET_FUZZ_SEED=${hex(SEED)} MEANET_FUZZ_ONLY=${x.index} npx vitest run test/fuzz.e2e.test.ts`,
      ...problems.slice(0, 5).map((p) => `  ✗ ${p.replace(/\n/g, "\n    ")}`),
      `  input: ${preview(x.text)}`,
    ].join("\n"),
  );
  const more = failing.length > shown.length ? `\n… and ${failing.length - shown.length} more failing inputs (#${failing.slice(shown.length).map((f) => f.x.index).join(", #")})` : "";
  return { failures: failing.length, text: `${failing.length} failing input(s) with seed ${hex(SEED)}:\n${shown.join("\n")}${more}` };
}

// ───────────────────────────── the test ─────────────────────────────

describe(`fuzzing compileSource (seed ${hex(SEED)})`, () => {
  const allInputs = buildInputs();
  const inputs = ONLY?.length ? allInputs.filter((x) => ONLY.includes(x.index)) : allInputs;
  const outcomes = new Map<number, Outcome>();
  let seconds = 0;

  beforeAll(async () => {
    const started = performance.now();
    const dir = mkdtempSync(join(tmpdir(), "meanet-fuzz-"));
    try {
      const file = join(dir, "inputs.json");
      writeFileSync(file, JSON.stringify(allInputs.map((x) => ({ kind: x.kind, name: x.name, text: x.text }))));
      const shards: number[][] = Array.from({ length: WORKERS }, () => []);
      inputs.forEach((x, k) => shards[k % WORKERS]!.push(x.index));
      const restarts = { count: 0 };
      await Promise.all(shards.map((s) => runShard(file, s, outcomes, restarts)));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
    seconds = (performance.now() - started) / 1000;
    const times = [...outcomes.values()].flatMap((o) => (o.status === "done" ? [o.ms] : []));
    const slowest = Math.max(0, ...times);
    const busy = times.reduce((t, ms) => t + ms, 0) / 1000;
    const killed = [...outcomes.values()].filter((o) => o.status === "killed").length;
    const byKind = new Map<Kind, number>();
    for (const x of inputs) {
      const o = outcomes.get(x.index);
      byKind.set(x.kind, (byKind.get(x.kind) ?? 0) + (o?.status === "done" ? o.ms / 1000 : HANG_KILL_MS / 1000));
    }
    console.log(
      `meanet fuzz: seed ${hex(SEED)}, ${inputs.length} of ${allInputs.length} inputs (${COUNTS.mutation} mutations of ${allInputs.filter((x) => x.kind === "corpus").length} corpus files, ${COUNTS.grammar} grammar-shaped, ${COUNTS.soup} token soup, ${COUNTS.bytes} random bytes, ${allInputs.filter((x) => x.kind === "pathological").length} pathological) on ${WORKERS} worker(s) in ${seconds.toFixed(1)} s (${busy.toFixed(1)} s of CPU compiling); slowest input ${slowest.toFixed(0)} ms of CPU; ${killed} hung or crashed; seconds by kind: ${[...byKind].map(([k, t]) => `${k} ${t.toFixed(1)}`).join(", ")}`,
    );
  }, 600_000);

  it(`feeds at least 3,000 inputs and gets an outcome for each`, () => {
    if (!ONLY?.length) expect(inputs.length).toBeGreaterThanOrEqual(3000);
    expect(inputs.filter((x) => !outcomes.has(x.index)).map((x) => x.index)).toEqual([]);
  });

  const cases: [string, Kind[]][] = [
    ["the unchanged examples and std library", ["corpus"]],
    ["mutated examples and std library files", ["mutation"]],
    ["grammar-shaped random specs", ["grammar"]],
    ["random token soup", ["soup"]],
    ["random bytes, control and non-ASCII characters", ["bytes"]],
    ["pathological inputs (deep nesting, long lines, odd encodings)", ["pathological"]],
  ];
  for (const [title, kinds] of cases) {
    it(`${title}: never throws, well-formed diagnostics, IR without errors, < ${PER_INPUT_LIMIT_MS} ms each`, () => {
      const { failures, text } = report(inputs, outcomes, kinds);
      expect(failures, text).toBe(0);
    });
  }
});
