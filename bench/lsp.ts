/**
 * The language server's latency on a generated spec of about N layers (bench/generatedSpec.ts):
 * `meanet lsp` runs as a child process (from the sources, through tsx) and this client times, over
 * JSON-RPC, (1) from each edit (a didChange of the whole text, alternating a changed dense width so
 * that every edit differs) to the diagnostics it publishes, and (2) hover requests on statements
 * spread over the spec. Medians and p90 over R edits and hovers after W warm-up ones.
 *
 *   node --import tsx bench/lsp.ts [--json] [--layers N] [--runs R] [--warmup W]
 *
 * Targets: diagnostics ≤ 50 ms, hover ≤ 10 ms (medians). The last line with --json is one JSON object.
 */
import { spawn } from "node:child_process";
import { resolve } from "node:path";
import { pathToFileURL } from "node:url";
import { parseArgs } from "node:util";
import { LspClient } from "../test/helpers/lspClient.js";
import { round } from "./common.js";
import { generateSpec } from "./generatedSpec.js";

const { values } = parseArgs({ options: { json: { type: "boolean" }, layers: { type: "string" }, runs: { type: "string" }, warmup: { type: "string" } } });
const layers = Number(values.layers ?? 1000);
const runs = Number(values.runs ?? 30);
const warmup = Number(values.warmup ?? 5);

const { text } = generateSpec(layers);
const uri = pathToFileURL(resolve(`bench/generated-${layers}.meanet`)).href;
const child = spawn(process.execPath, ["--import", "tsx", "-e", 'const { main } = await import("./src/cli/main.ts"); process.exitCode = await main(["lsp", "--stdio"]);']);
child.stderr.pipe(process.stderr);
const client = new LspClient(child);
await client.request("initialize", { processId: process.pid, rootUri: pathToFileURL(resolve(".")).href, capabilities: {} });
client.notify("initialized", {});

const published = () => client.next((m) => m.method === "textDocument/publishDiagnostics" && m.params.uri === uri);
let version = 1;
const first = published();
client.notify("textDocument/didOpen", { textDocument: { uri, languageId: "meanet", version, text } });
const opened = await first;
if (opened.params.diagnostics.length) throw new Error(`the generated spec has diagnostics: ${JSON.stringify(opened.params.diagnostics[0])}`);

/** One edit: the same spec with the cloud exit's dropout rate changed, so that the text differs each time. */
async function edit(i: number): Promise<number> {
  const changed = text.replace("rate: 0.2), num_classes)", `rate: 0.${(i % 8) + 1}), num_classes)`);
  const done = published();
  const t0 = performance.now();
  client.notify("textDocument/didChange", { textDocument: { uri, version: ++version }, contentChanges: [{ text: changed }] });
  await done;
  return performance.now() - t0;
}

const lines = text.split("\n");
// Statements of the blocks (the defs before them have no layers of their own to show).
const firstBlock = lines.findIndex((l) => l.startsWith("block "));
const statements = lines.map((l, line) => ({ l, line })).filter(({ l, line }) => line > firstBlock && /^\s+(x|a|b|y|features|out) = /.test(l));
async function hover(i: number): Promise<number> {
  const { line } = statements[(i * 7) % statements.length]!;
  const t0 = performance.now();
  const h = await client.request("textDocument/hover", { textDocument: { uri }, position: { line, character: 3 } });
  if (!h) throw new Error(`no hover on line ${line + 1}: ${lines[line]}`);
  return performance.now() - t0;
}

const measure = async (f: (i: number) => Promise<number>) => {
  for (let i = 0; i < warmup; i++) await f(i);
  const xs: number[] = [];
  for (let i = 0; i < runs; i++) xs.push(await f(warmup + i));
  xs.sort((a, b) => a - b);
  return { median: round(xs[Math.floor(xs.length / 2)]!, 2), p90: round(xs[Math.floor(xs.length * 0.9)]!, 2), min: round(xs[0]!, 2), max: round(xs[xs.length - 1]!, 2) };
};
const diagnostics = await measure(edit);
const hovers = await measure(hover);
await client.request("shutdown", null);
client.notify("exit", null);

const result = { layers, lines: lines.length, runs, diagnosticsMs: diagnostics, hoverMs: hovers, targets: { diagnosticsMs: 50, hoverMs: 10 } };
if (!values.json) {
  console.log(`meanet lsp on a generated spec of ~${layers} layers (${lines.length} lines): edit → diagnostics median ${diagnostics.median} ms (p90 ${diagnostics.p90}); hover median ${hovers.median} ms (p90 ${hovers.p90}); ${runs} of each`);
}
console.log(JSON.stringify(result));
