/**
 * The trained model that the e2e tests of export, routing and evaluation share, trained once and
 * kept on disk between runs.
 *
 * What it is: the Fashion-MNIST example with half of its 8,000 training images held out for
 * validation (`validation: 0.5`, so that `meanet eval` has 4,000 images to calibrate a threshold
 * on), one epoch per stage, 200 test images, trained by `meanet train` on the wasm backend. The
 * rest of the spec is the example's, routing rule included.
 *
 * Where: node_modules/.cache/meanet-test/trained-<key>/ (spec.meanet, build/fashion_mnist/ and,
 * written last, done.json). The key is a SHA-256 of everything the training reads: the spec text,
 * the flags, the data files `meanet train` picks (the Debian package's full set when installed,
 * else the embedded subset), meanet's code (src/, bin/, the std library in dsl/, package.json,
 * package-lock.json, tsconfig.build.json), the Node version and this file. Any change to one of
 * them trains a new fixture; after training one, entries unused for a week are deleted.
 *
 * Only one process trains a given key at a time: a lock directory beside the entry, taken
 * atomically, tells other test workers (and other vitest runs) to wait for done.json, up to a
 * bound, instead of training too. A lock whose process has died is taken over.
 *
 * Tests never write into the entry: `copyTrainedBuild` copies the trained, not yet exported build
 * where the test wants it.
 */
import { spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { cpSync, existsSync, mkdirSync, readdirSync, readFileSync, realpathSync, rmSync, statSync, utimesSync, writeFileSync } from "node:fs";
import { hostname } from "node:os";
import { join, relative, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { locateDataset } from "../../src/runtime/train/data/locate.js";

export const MODEL = "fashion_mnist";
/** The `meanet train` flags of the fixture. */
export const TRAIN_FLAGS = ["--limit-train", "8000", "--limit-test", "200", "--epochs", "1", "--backend", "wasm"] as const;
/** How long a test waits for another process that is training the same fixture. */
const WAIT_LIMIT_MS = 20 * 60_000;
const POLL_MS = 500;
const UNUSED_DAYS = 7;

const ROOT = resolve(fileURLToPath(new URL("../..", import.meta.url)));
const THIS_FILE = fileURLToPath(import.meta.url);

/** The example's text with half of the training images held out for validation. */
export function fixtureSpecText(): string {
  const example = readFileSync(join(ROOT, "examples/fashion-mnist.meanet"), "utf8");
  const text = example.replace(/^(\s*validation:\s*)0\.1\b/m, "$10.5");
  if (text === example) throw new Error("examples/fashion-mnist.meanet has no `validation: 0.1` for the trained fixture to change");
  return text;
}

function filesUnder(dir: string): string[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir, { withFileTypes: true })
    .flatMap((e) => (e.isDirectory() ? filesUnder(join(dir, e.name)) : e.isFile() ? [join(dir, e.name)] : []))
    .sort();
}

/** The key of the fixture: a SHA-256 of what its training reads, and the data files' description. */
export function fixtureKey(): { key: string; data: string } {
  const h = createHash("sha256");
  const add = (label: string, data: string | Buffer) => {
    h.update(`${label}\0${Buffer.byteLength(data)}\0`);
    h.update(data);
  };
  add("spec", fixtureSpecText());
  add("flags", JSON.stringify(TRAIN_FLAGS));
  add("node", process.version);
  const code = [
    ...["src", "bin", "dsl"].flatMap((d) => filesUnder(join(ROOT, d))),
    ...["package.json", "package-lock.json", "tsconfig.build.json"].map((f) => join(ROOT, f)),
    THIS_FILE,
  ];
  for (const f of code) add(relative(ROOT, f), readFileSync(f));
  const located = locateDataset("fashion-mnist", undefined);
  const data = Object.values(located.files).flatMap((s) => (s.format === "idx" ? [s.images, s.labels] : s.format === "cifar" ? s.records : s.images.map((i) => i.file)));
  for (const f of data.sort()) add(`data:${f}`, readFileSync(f));
  return { key: h.digest("hex"), data: located.description };
}

/** The cache folder, by its real path: worktrees that share node_modules record the same spec path. */
function cacheRoot(): string {
  const dir = join(ROOT, "node_modules", ".cache", "meanet-test");
  mkdirSync(dir, { recursive: true });
  return realpathSync(dir);
}

function sleep(ms: number): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === "EPERM";
  }
}

/** Takes the lock directory, or answers who holds it. */
function tryLock(lock: string): { taken: true } | { taken: false; owner: string; stale: boolean } {
  try {
    mkdirSync(lock);
    writeFileSync(join(lock, "owner"), `${process.pid} ${hostname()}\n`);
    return { taken: true };
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== "EEXIST") throw e;
  }
  let owner = "";
  try {
    owner = readFileSync(join(lock, "owner"), "utf8").trim();
  } catch {
    // Just created: the owner is writing its name. Not stale unless it stays nameless.
    const age = Date.now() - statSync(lock).mtimeMs;
    return { taken: false, owner: "(unnamed)", stale: age > 60_000 };
  }
  const [pid, host] = owner.split(" ");
  return { taken: false, owner, stale: host === hostname() && !alive(Number(pid)) };
}

function prune(root: string, keep: string): void {
  const cutoff = Date.now() - UNUSED_DAYS * 24 * 3600_000;
  for (const name of readdirSync(root)) {
    if (!name.startsWith("trained-") || name === keep || name.endsWith(".lock")) continue;
    const done = join(root, name, "done.json");
    if (existsSync(done) && statSync(done).mtimeMs < cutoff && !existsSync(join(root, `${name}.lock`))) rmSync(join(root, name), { recursive: true, force: true });
  }
}

export interface TrainedFixture {
  /** The fixture's spec file (read-only): the path the trained manifest records. */
  spec: string;
  /** The trained, not yet exported build directory (read-only: copy it with `copyTrainedBuild`). */
  dir: string;
  key: string;
}

let memo: TrainedFixture | undefined;

/** The trained fixture, trained now when no process has trained it for this key yet. */
export function trainedFixture(): TrainedFixture {
  if (memo) return memo;
  const { key, data } = fixtureKey();
  const root = cacheRoot();
  const name = `trained-${key.slice(0, 20)}`;
  const entry = join(root, name);
  const lock = join(root, `${name}.lock`);
  const fixture = { spec: join(entry, "spec.meanet"), dir: join(entry, "build", MODEL), key };
  const done = join(entry, "done.json");
  const deadline = Date.now() + WAIT_LIMIT_MS;
  for (;;) {
    if (existsSync(done)) {
      const now = new Date();
      utimesSync(done, now, now);
      return (memo = fixture);
    }
    const l = tryLock(lock);
    if (l.taken) break;
    if (l.stale) {
      rmSync(lock, { recursive: true, force: true });
      continue;
    }
    if (Date.now() > deadline) throw new Error(`gave up after ${WAIT_LIMIT_MS / 60_000} min waiting for process ${l.owner} to train the test fixture in ${entry} (lock ${lock})`);
    sleep(POLL_MS);
  }
  try {
    // Another process may have finished between our check and our lock.
    if (!existsSync(done)) {
      rmSync(entry, { recursive: true, force: true });
      mkdirSync(entry, { recursive: true });
      writeFileSync(fixture.spec, fixtureSpecText());
      const started = Date.now();
      process.stderr.write(`training the shared test fixture (${data}; ${TRAIN_FLAGS.join(" ")}) into ${entry}\n`);
      const r = spawnSync(process.execPath, [join(ROOT, "bin/meanet.js"), "train", fixture.spec, "-o", join(entry, "build"), ...TRAIN_FLAGS], { cwd: ROOT, encoding: "utf8" });
      if (r.status !== 0) throw new Error(`training the test fixture failed (exit ${r.status}):\n${r.stderr}`);
      writeFileSync(done, JSON.stringify({ key, flags: TRAIN_FLAGS, data, seconds: (Date.now() - started) / 1000 }, null, 2) + "\n");
    }
  } finally {
    rmSync(lock, { recursive: true, force: true });
  }
  prune(root, name);
  return (memo = fixture);
}

/** Copies the trained, not yet exported build to `outRoot/fashion_mnist` and returns that directory. */
export function copyTrainedBuild(outRoot: string): string {
  const dir = join(outRoot, MODEL);
  cpSync(trainedFixture().dir, dir, { recursive: true });
  return dir;
}
