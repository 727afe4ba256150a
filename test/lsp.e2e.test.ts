/**
 * `meanet lsp` as an editor runs it: the built binary as a child process, JSON-RPC over its stdin
 * and stdout. Diagnostics on open and as the text changes (the codes and places of `meanet check`,
 * cleared once fixed), hover with the shape and costs of a statement (a def call's expansion
 * included) and a block's totals, the outline, a broken spec that does not crash it, and shutdown.
 */
import { spawn } from "node:child_process";
import { readdirSync, readFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { pathToFileURL } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { LspClient, type LspMessage } from "./helpers/lspClient.js";

const SPEC = resolve("examples/fashion-mnist.meanet");
const URI = pathToFileURL(SPEC).href;
const TEXT = readFileSync(SPEC, "utf8");
let client: LspClient;

const diagnosticsFor = (uri: string) => (m: LspMessage) => m.method === "textDocument/publishDiagnostics" && m.params.uri === uri;
/** The LSP position of the `at`-th character of `needle` in `text`. */
function positionOf(text: string, needle: string, at = 2): { line: number; character: number } {
  const offset = text.indexOf(needle) + at;
  expect(offset).toBeGreaterThanOrEqual(at);
  const before = text.slice(0, offset).split("\n");
  return { line: before.length - 1, character: before[before.length - 1]!.length };
}

beforeAll(async () => {
  const child = spawn(process.execPath, ["bin/meanet.js", "lsp", "--stdio"], { stdio: ["pipe", "pipe", "pipe"] });
  client = new LspClient(child);
  const init = await client.request("initialize", { processId: process.pid, rootUri: pathToFileURL(resolve(".")).href, capabilities: {} });
  expect(init.capabilities.hoverProvider).toBe(true);
  expect(init.capabilities.documentSymbolProvider).toBe(true);
  client.notify("initialized", {});
});

afterAll(async () => {
  if (!client) return;
  const exited = new Promise<number | null>((r) => client.child.once("exit", (code) => r(code)));
  await client.request("shutdown", null);
  client.notify("exit", null);
  expect(await exited).toBe(0);
});

describe("meanet lsp", () => {
  it("publishes no diagnostics for the example, then the error `meanet check` gives for a typo, then none once it is fixed", async () => {
    const clean = client.next(diagnosticsFor(URI));
    client.notify("textDocument/didOpen", { textDocument: { uri: URI, languageId: "meanet", version: 1, text: TEXT } });
    expect((await clean).params.diagnostics).toEqual([]);

    const broken = TEXT.replace("features = relu(batchnorm(conv2d(x, 64", "features = relu(batchnorm(conv2dd(x, 64");
    const withError = client.next(diagnosticsFor(URI));
    client.notify("textDocument/didChange", { textDocument: { uri: URI, version: 2 }, contentChanges: [{ text: broken }] });
    const [d] = (await withError).params.diagnostics;
    expect(d.code).toBe("MN2002");
    expect(d.severity).toBe(1);
    expect(d.message).toContain("conv2dd");
    expect(d.message).toContain("hint: did you mean `conv2d`");
    expect(d.range.start).toEqual(positionOf(broken, "conv2dd(x, 64", 0));

    const fixed = client.next(diagnosticsFor(URI));
    client.notify("textDocument/didChange", { textDocument: { uri: URI, version: 3 }, contentChanges: [{ text: TEXT }] });
    expect((await fixed).params.diagnostics).toEqual([]);
  });

  it("hovers a statement with its output shape, params, MACs and device; a def call with its whole expansion; a block with its totals", async () => {
    const hover = (needle: string) => client.request("textDocument/hover", { textDocument: { uri: URI }, position: positionOf(TEXT, needle) });
    const features = (await hover("features = relu")).contents.value as string;
    expect(features).toContain("**features**: 7×7×64");
    expect(features).toMatch(/params 18\.6 K · MACs 903\.2 K/);
    expect(features).toContain("on the edge");
    const call = (await hover("x = basic_block")).contents.value as string;
    expect(call).toContain("conv2d ×3, batchnorm ×3");
    const block = (await hover("block cloud")).contents.value as string;
    expect(block).toContain("**block cloud** (18 layers)");
    expect(block).toContain("MACs 11.13 M");
    expect(block).toContain("on the cloud");
    expect(await client.request("textDocument/hover", { textDocument: { uri: URI }, position: { line: 0, character: 1 } })).toBeNull();
  });

  it("goes to the definition of a tensor, a `block.tensor` read, a def of std/ and an exit named in `route`", async () => {
    const definition = (needle: string, at: number) => client.request("textDocument/definition", { textDocument: { uri: URI }, position: positionOf(TEXT, needle, at) });
    // `x` in main's `features = …(x, 64 …)`: main's last `x =` before it.
    const x = await definition("conv2d(x, 64", "conv2d(".length);
    expect(x.uri).toBe(URI);
    const lastX = TEXT.lastIndexOf("  x = ", TEXT.indexOf("features = relu")) + 2;
    const before = TEXT.slice(0, lastX).split("\n");
    expect(x.range.start).toEqual({ line: before.length - 1, character: before[before.length - 1]!.length });
    const features = await definition("main.features", "main.".length + 1);
    expect(features.range.start).toEqual(positionOf(TEXT, "features = relu", 0));
    const std = await definition("basic_block(", 1);
    expect(std.uri).toBe(pathToFileURL(resolve("dsl/std/resnet.meanet")).href);
    const stdText = readFileSync("dsl/std/resnet.meanet", "utf8");
    expect(std.range.start).toEqual(positionOf(stdText, "basic_block(", 0));
    const exit = await definition("defer(main, extension)", "defer(".length + 1);
    expect(exit.range.start).toEqual(positionOf(TEXT, "main over all", 0));
    // Each exit the learned deferral rule reads.
    const second = await definition("defer(main, extension)", "defer(main, ".length + 1);
    expect(second.range.start).toEqual(positionOf(TEXT, "extension over hard", 0));
    expect(await client.request("textDocument/definition", { textDocument: { uri: URI }, position: { line: 0, character: 1 } })).toBeNull();
  });

  it("finds the references of main's `features` (its exit and the extension's read) and renames it there, and refuses names that cannot be renamed", async () => {
    const at = positionOf(TEXT, "features = relu", 1);
    const refs = (await client.request("textDocument/references", { textDocument: { uri: URI }, position: at, context: { includeDeclaration: true } })) as { uri: string; range: { start: { line: number; character: number } } }[];
    const starts = refs.map((r) => r.range.start);
    expect(starts).toEqual([positionOf(TEXT, "features = relu", 0), positionOf(TEXT, "features), num_classes", 0), positionOf(TEXT, "features, adaptive.out", 0)]);
    const edit = await client.request("textDocument/rename", { textDocument: { uri: URI }, position: at, newName: "trunk" });
    const edits = edit.changes[URI] as { range: { start: { line: number; character: number }; end: { line: number; character: number } }; newText: string }[];
    expect(edits.map((e) => e.range.start)).toEqual(starts);
    expect(edits.every((e) => e.newText === "trunk" && e.range.end.character - e.range.start.character === "features".length)).toBe(true);
    // A reassigned tensor: `x` read in `x = relu(batchnorm(conv2d(x, 32…` is the x before it, not itself.
    const x = await client.request("textDocument/definition", { textDocument: { uri: URI }, position: positionOf(TEXT, "conv2d(x, 32", "conv2d(".length) });
    expect(x.range.start.line).toBeLessThan(positionOf(TEXT, "conv2d(x, 32", 0).line);
    await expect(client.request("textDocument/rename", { textDocument: { uri: URI }, position: positionOf(TEXT, "basic_block(", 1), newName: "block2" })).rejects.toThrow(/not in this file/);
    await expect(client.request("textDocument/rename", { textDocument: { uri: URI }, position: at, newName: "2x" })).rejects.toThrow(/not a name/);
  });

  it("formats a document as `meanet fmt` does, and leaves a formatted one alone", async () => {
    const uri = pathToFileURL(resolve("test/golden/lsp-format.meanet")).href;
    const messy = TEXT.replace("x = concat(main.features, adaptive.out)", "x=concat( main.features,adaptive.out )");
    const opened = client.next(diagnosticsFor(uri));
    client.notify("textDocument/didOpen", { textDocument: { uri, languageId: "meanet", version: 1, text: messy } });
    await opened;
    const edits = await client.request("textDocument/formatting", { textDocument: { uri }, options: { tabSize: 2, insertSpaces: true } });
    expect(edits).toHaveLength(1);
    expect(edits[0].newText).toBe(TEXT);
    expect(await client.request("textDocument/formatting", { textDocument: { uri: URI }, options: { tabSize: 2, insertSpaces: true } })).toEqual([]);
    client.notify("textDocument/didClose", { textDocument: { uri } });
  });

  it("gives the outline: the blocks with their tensors and exits, the devices, the training stages", async () => {
    const symbols = (await client.request("textDocument/documentSymbol", { textDocument: { uri: URI } })) as { name: string; children?: { name: string }[] }[];
    const byName = (n: string) => symbols.filter((s) => s.name === n);
    expect(byName("main")[0]!.children!.map((c) => c.name)).toEqual(["x", "x", "x", "x", "features", "main"]);
    expect(symbols.map((s) => s.name)).toEqual(expect.arrayContaining(["edge", "cloud", "adaptive", "extension", "train", "route"]));
    expect(symbols.find((s) => s.name === "train")!.children!.map((c) => c.name)).toEqual(["main", "extension", "cloud", "defer"]);
  });

  it("answers every request on each golden error spec (every compile-time code) without crashing, with the diagnostics `meanet check` gives", async () => {
    const files = readdirSync("test/golden").filter((f) => f.endsWith(".meanet"));
    expect(files.length).toBeGreaterThan(70);
    const uri = pathToFileURL(resolve("test/golden/lsp-probe.meanet")).href;
    const opened = client.next(diagnosticsFor(uri));
    client.notify("textDocument/didOpen", { textDocument: { uri, languageId: "meanet", version: 1, text: "" } });
    await opened;
    let version = 1;
    for (const f of files) {
      const text = readFileSync(join("test/golden", f), "utf8");
      const published = client.next(diagnosticsFor(uri));
      client.notify("textDocument/didChange", { textDocument: { uri, version: ++version }, contentChanges: [{ text }] });
      const codes = ((await published).params.diagnostics as { code: string }[]).map((d) => d.code);
      const expected = readFileSync(join("test/golden", f.replace(/\.meanet$/, ".expected.txt")), "utf8");
      const checked = [...expected.matchAll(/: (?:error|warning) (MN\d{4}):/g)].map((m) => m[1]!);
      expect(codes.sort(), f).toEqual(checked.sort());
      // Requests at every tenth character: none may fail.
      const lines = text.split("\n");
      for (let line = 0; line < lines.length; line += 3) {
        for (let character = 0; character <= lines[line]!.length; character += 10) {
          const position = { line, character };
          await client.request("textDocument/hover", { textDocument: { uri }, position });
          await client.request("textDocument/definition", { textDocument: { uri }, position });
          await client.request("textDocument/references", { textDocument: { uri }, position, context: { includeDeclaration: true } });
        }
      }
      await client.request("textDocument/documentSymbol", { textDocument: { uri } });
    }
    client.notify("textDocument/didClose", { textDocument: { uri } });
  }, 120_000);

  it("survives specs that do not parse: each edit gets its diagnostics, and the server still answers", async () => {
    const uri = pathToFileURL(resolve("test/golden/broken.meanet")).href;
    const junk = ["block {", "block main on edge {\n  x = conv2d(image, \n}", "\u0000\u0001 route { cloud when", TEXT.slice(0, TEXT.length / 2)];
    const opened = client.next(diagnosticsFor(uri));
    client.notify("textDocument/didOpen", { textDocument: { uri, languageId: "meanet", version: 1, text: "" } });
    await opened;
    for (const [i, text] of junk.entries()) {
      const published = client.next(diagnosticsFor(uri));
      client.notify("textDocument/didChange", { textDocument: { uri, version: i + 2 }, contentChanges: [{ text }] });
      const diagnostics = (await published).params.diagnostics as { code: string; message: string }[];
      expect(diagnostics.length, JSON.stringify(text)).toBeGreaterThan(0);
      expect(diagnostics.every((d) => /^MN\d{4}$/.test(d.code))).toBe(true);
    }
    expect(await client.request("textDocument/hover", { textDocument: { uri }, position: { line: 0, character: 2 } })).toBeNull();
    const cleared = client.next(diagnosticsFor(uri));
    client.notify("textDocument/didClose", { textDocument: { uri } });
    expect((await cleared).params.diagnostics).toEqual([]);
  });
});
