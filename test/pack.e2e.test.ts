/**
 * The package as npm ships it. `npm pack` of a copy of the checkout (its prepack builds dist/
 * afresh; the checkout's own dist/, which other e2e files run, is left alone), the tarball's file
 * list, then the README's "Installing the package" commands in an empty project, offline: the
 * install, `npx meanet --help`, `check`, `compile` and `export --random-weights` on the
 * Fashion-MNIST example shipped in the package, `meanet serve` (one inference request, then
 * SIGTERM) and `meanet run` against it.
 *
 * Offline, the one liberty taken with the README: `npm install <tarball>` resolves meanet's
 * dependency ranges from the registry's package lists, which the npm cache lacks after `npm ci`
 * (that installs by the lock file's URLs). So the empty project is given a lock file holding the
 * checkout's own production entries (versions, URLs, integrity), which is what an online install
 * resolves to while no newer release is out; npm then takes every tarball from the cache. When
 * the cache lacks one (ENOTCACHED), the tests skip, saying so.
 */
import { spawn, spawnSync, type SpawnSyncReturns } from "node:child_process";
import { cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, realpathSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, relative, sep } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { pollUntil } from "./helpers/wait.js";

const ROOT = fileURLToPath(new URL("..", import.meta.url));
const tmp = mkdtempSync(join(tmpdir(), "meanet-pack-"));
const checkout = join(tmp, "checkout");
const app = join(tmp, "app");
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

const SPEC = "node_modules/meanet/examples/fashion-mnist.meanet";
const BUILD = "build/fashion_mnist";

/**
 * The environment of every npm command: the variables `npm test` gives its scripts (npm_*) and
 * an inherited ONNXRUNTIME_NODE_INSTALL removed, so that what runs is what the README says; the
 * cache and user config a CI sets kept; npx never reaches for the registry.
 */
function npmEnv(): NodeJS.ProcessEnv {
  const keep = new Set(["npm_config_cache", "npm_config_userconfig", "npm_config_globalconfig"]);
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) {
    if (k.toLowerCase().startsWith("npm_") && !keep.has(k.toLowerCase())) continue;
    if (k.startsWith("ONNXRUNTIME_NODE_INSTALL")) continue;
    env[k] = v;
  }
  return { ...env, npm_config_offline: "true", npm_config_update_notifier: "false", npm_config_fund: "false" };
}
const ENV = npmEnv();

function sh(cwd: string, command: string, args: string[]): SpawnSyncReturns<string> {
  return spawnSync(command, args, { cwd, env: ENV, encoding: "utf8", maxBuffer: 64 * 1024 * 1024 });
}

function ok(r: SpawnSyncReturns<string>, what: string): string {
  expect(r.error, what).toBeUndefined();
  expect(r.status, `${what}\n${r.stdout}\n${r.stderr}`).toBe(0);
  return r.stdout;
}

/** npm's version as numbers; `allowScripts` and `npm install-scripts` came with npm 11.16. */
function npmVersion(): number[] {
  return ok(sh(tmp, "npm", ["--version"]), "npm --version").trim().split(".").map(Number);
}
const atLeast = (v: number[], w: number[]) => v[0]! > w[0]! || (v[0] === w[0] && (v[1]! > w[1]! || (v[1] === w[1] && v[2]! >= w[2]!)));

/** The checkout without its installed and built folders, node_modules linked back. */
function copyCheckout(): void {
  const skip = new Set(["node_modules", "dist", "build", ".git", "results"]);
  cpSync(ROOT, checkout, {
    recursive: true,
    filter: (src) => {
      const rel = relative(ROOT, src);
      return !skip.has(rel.split(sep)[0]!) && !rel.endsWith(".tgz") && rel !== join(".ci", "results.json");
    },
  });
  symlinkSync(realpathSync(join(ROOT, "node_modules")), join(checkout, "node_modules"), "dir");
}

/** The empty project's lock file: the checkout's production entries at the same paths (see the top). */
function seedLock(): void {
  const lock = JSON.parse(readFileSync(join(ROOT, "package-lock.json"), "utf8")) as { packages: Record<string, Record<string, unknown>> };
  const packages: Record<string, unknown> = { "": { name: "app", version: "1.0.0" } };
  for (const [path, entry] of Object.entries(lock.packages)) {
    if (path === "" || entry.dev) continue;
    const { devOptional, ...rest } = entry;
    packages[path] = devOptional ? { ...rest, optional: true } : rest;
  }
  writeFileSync(join(app, "package-lock.json"), JSON.stringify({ name: "app", version: "1.0.0", lockfileVersion: 3, requires: true, packages }, null, 2));
}

interface Packed {
  filename: string;
  size: number;
  files: { path: string }[];
}

let packed: Packed;
let tarball: string;
let skipReason: string | undefined;
let installLog = "";

beforeAll(() => {
  copyCheckout();
  const out = ok(sh(checkout, "npm", ["pack", "--json", "--pack-destination", tmp]), "npm pack");
  packed = (JSON.parse(out) as Packed[])[0]!;
  tarball = join(tmp, packed.filename);

  mkdirSync(app);
  writeFileSync(join(app, "package.json"), JSON.stringify({ name: "app", version: "1.0.0", private: true }, null, 2));
  seedLock();
  // The README's install, offline.
  const install = sh(app, "npm", ["install", "--offline", "--ignore-scripts", tarball]);
  installLog = install.stderr;
  if (install.status !== 0 && /ENOTCACHED/.test(install.stderr)) {
    skipReason = `the npm cache lacks a dependency of meanet (run npm ci first): ${install.stderr.match(/request to (\S+)/)?.[1] ?? "ENOTCACHED"}`;
    console.warn(`SKIPPED: installing the packed tarball offline: ${skipReason}`);
    return;
  }
  ok(install, "npm install --offline --ignore-scripts meanet-*.tgz");
  if (atLeast(npmVersion(), [11, 16, 0])) ok(sh(app, "npm", ["install-scripts", "deny", "--all"]), "npm install-scripts deny --all");
});

function npx(...args: string[]): SpawnSyncReturns<string> {
  return sh(app, "npx", ["meanet", ...args]);
}

describe("npm pack", () => {
  it("holds bin/, a fresh dist/, dsl/, examples/, the bundled Fashion-MNIST subset, README.md and LICENSE, and nothing else", () => {
    const paths = packed.files.map((f) => f.path).sort();
    const allowed = /^(package\.json|README\.md|LICENSE|bin\/meanet\.js|dist\/.+\.js|dsl\/.+|examples\/.+|data\/fashion-mnist\/(README\.md|[a-z0-9-]+-ubyte\.gz))$/;
    expect(paths.filter((p) => !allowed.test(p))).toEqual([]);
    for (const p of ["LICENSE", "bin/meanet.js", "dist/cli/main.js", "dist/runtime/infer/index.js", "dsl/std/resnet.meanet", "dsl/reference.md", "examples/fashion-mnist.meanet", "data/fashion-mnist/t10k-images-idx3-ubyte.gz", "data/fashion-mnist/train-labels-idx1-ubyte.gz"]) {
      expect(paths, p).toContain(p);
    }
    // Every module of src/ is built, and nothing else (a stale dist/ would have others, or miss some).
    const modules = (readdirSync(join(checkout, "src"), { recursive: true }) as string[])
      .filter((p) => p.endsWith(".ts") && !p.endsWith(".d.ts"))
      .map((p) => `dist/${p.split(sep).join("/").replace(/\.ts$/, ".js")}`);
    expect(paths.filter((p) => p.startsWith("dist/"))).toEqual(modules.sort());
    expect(packed.size, "tarball bytes").toBeLessThan(5_000_000);
  });
});

describe("the packed tarball, installed offline into an empty project", () => {
  it("installs without running or warning about dependency install scripts", (ctx) => {
    if (skipReason) ctx.skip(skipReason);
    expect(installLog).not.toMatch(/install-scripts|Unknown (project|env) config/);
    expect(sh(app, "npm", ["ls", "meanet"]).stdout).toContain("meanet@0.1.0");
    // onnxruntime-node's postinstall did not run: it would have fetched the CUDA libraries (linux/x64).
    expect(existsSync(join(app, "node_modules/onnxruntime-node/bin/napi-v6/linux/x64/libonnxruntime_providers_cuda.so"))).toBe(false);
    if (atLeast(npmVersion(), [11, 16, 0])) {
      const policy = (JSON.parse(readFileSync(join(app, "package.json"), "utf8")) as { allowScripts?: Record<string, boolean> }).allowScripts;
      expect(policy?.["onnxruntime-node"]).toBe(false);
      expect(ok(sh(app, "npm", ["install-scripts", "ls"]), "npm install-scripts ls")).toContain("No packages with unreviewed install scripts");
    }
  });

  it("runs npx meanet --help, check, compile and export --random-weights on the shipped example", (ctx) => {
    if (skipReason) ctx.skip(skipReason);
    expect(ok(npx("--help"), "meanet --help")).toContain("usage: meanet <command>");
    expect(ok(npx("check", SPEC), "meanet check")).toContain("fashion-mnist.meanet: ok");
    ok(npx("compile", SPEC, "-o", "build"), "meanet compile");
    expect(existsSync(join(app, BUILD, "manifest.json"))).toBe(true);
    const exported = ok(npx("export", BUILD, "--random-weights"), "meanet export --random-weights");
    expect(exported).toMatch(/calibrated by minmax on 512 seeded training images of Fashion-MNIST from (\/usr\/share\/datasets\/fashion-mnist|\S*node_modules\/meanet\/data\/fashion-mnist)/);
    for (const f of ["edge/main.onnx", "edge/extension.onnx", "cloud/model.onnx"]) expect(existsSync(join(app, BUILD, f)), f).toBe(true);
  });

  it("serves the cloud model (one inference request), routes the test images through it with meanet run, and stops on SIGTERM", async (ctx) => {
    if (skipReason) ctx.skip(skipReason);
    const server = spawn(join(app, "node_modules/.bin/meanet"), ["serve", BUILD, "--port", "0"], { cwd: app, env: ENV, stdio: ["ignore", "pipe", "pipe"] });
    let out = "";
    let err = "";
    server.stdout.on("data", (b: Buffer) => (out += b.toString()));
    server.stderr.on("data", (b: Buffer) => (err += b.toString()));
    const exited = new Promise<number | null>((resolve) => server.on("exit", (code) => resolve(code)));
    try {
      const url = await pollUntil("meanet serve's listening line", () => out.match(/listening on (http:\/\/\S+)/)?.[1], { attempts: 600, intervalMs: 50, state: () => out + err });
      const reply = await fetch(`${url}/v2/models/fashion_mnist/infer`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ inputs: [{ name: "image", shape: [1, 28, 28, 1], datatype: "UINT8", data: new Array(784).fill(0) }] }),
      });
      expect(reply.status).toBe(200);
      const body = (await reply.json()) as { outputs: { name: string; shape: number[]; data: number[] }[] };
      expect(body.outputs[0]!.name).toBe("probs_cloud");
      expect(body.outputs[0]!.shape).toEqual([1, 10]);
      expect(body.outputs[0]!.data.reduce((a, b) => a + b, 0)).toBeCloseTo(1, 4);

      const run = ok(npx("run", BUILD, "--cloud", url, "--limit", "1000"), "meanet run --cloud");
      expect(run).toMatch(/1000 images of Fashion-MNIST from/);
      expect(run).toMatch(/cloud requests \d+ \(0 failed/);
    } finally {
      server.kill("SIGTERM");
    }
    expect(await exited, err).toBe(0);
  });
});
