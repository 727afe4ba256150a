/** A build directory as the runtime stages read it: ir.json and manifest.json, checked for what they claim to be. */
import { existsSync, readdirSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import type { IrJson } from "./ir.js";
import type { Manifest } from "./manifest.js";
import { Codes, MeanetError } from "../diagnostics/index.js";

export interface Build {
  dir: string;
  ir: IrJson;
  manifest: Manifest;
}

function readJson<T>(dir: string, file: string, format: string): T {
  const path = join(dir, file);
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch {
    throw new MeanetError(Codes.BuildInvalid, `${path} is missing; ${buildHint(dir)}`);
  }
  let value: { format?: unknown; version?: unknown };
  try {
    value = JSON.parse(text) as typeof value;
  } catch (e) {
    throw new MeanetError(Codes.BuildInvalid, `${path} is not valid JSON (${jsonProblem(e)}); run \`meanet compile\` again`);
  }
  if (value?.format !== format || value.version !== 1) throw new MeanetError(Codes.BuildInvalid, `${path} is not a ${format} file of version 1; run \`meanet compile\` again`);
  return value as T;
}

/**
 * The folders directly inside `dir` that hold a build (an ir.json or a manifest.json): what
 * `compile -o DIR` wrote as DIR/<model>, when DIR itself is given to a later command.
 */
export function buildsIn(dir: string): string[] {
  let entries;
  try {
    entries = readdirSync(dir, { withFileTypes: true });
  } catch {
    return [];
  }
  return entries
    .filter((e) => e.isDirectory() && ["ir.json", "manifest.json"].some((f) => existsSync(join(dir, e.name, f))))
    .map((e) => join(dir, e.name))
    .sort();
}

/** What to say of a directory that is not a build: the builds inside it, if any, by name. */
function buildHint(dir: string): string {
  const inside = buildsIn(dir);
  if (inside.length === 1) return `did you mean ${inside[0]}? (\`meanet compile -o ${dir}\` writes the build in ${dir}/<model>)`;
  if (inside.length > 1) return `${dir} holds ${inside.length} builds; did you mean one of ${inside.join(", ")}?`;
  return `is ${dir} a build directory written by \`meanet compile\` or \`meanet train\`?`;
}

/** JSON.parse's message on one line: V8 quotes the text it stopped at, newlines included. */
export function jsonProblem(e: unknown): string {
  return (e as Error).message.replace(/\s+/g, " ").trim();
}

export function readBuild(dir: string): Build {
  const pass = "pass the model's folder inside the build directory (e.g. build/fashion_mnist)";
  if (!existsSync(dir)) throw new MeanetError(Codes.BuildInvalid, `build directory ${dir} not found; ${pass}`);
  if (!statSync(dir).isDirectory()) throw new MeanetError(Codes.BuildInvalid, `${dir} is a file, not a build directory; ${pass}`);
  const ir = readJson<IrJson>(dir, "ir.json", "meanet-ir");
  const manifest = readJson<Manifest>(dir, "manifest.json", "meanet-manifest");
  if (manifest.model !== ir.model) throw new MeanetError(Codes.BuildInvalid, `${join(dir, "manifest.json")} is for model \`${manifest.model}\` but ir.json is for \`${ir.model}\``);
  return { dir, ir, manifest };
}
