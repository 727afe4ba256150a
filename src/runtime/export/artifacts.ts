/**
 * Files as the manifest lists them: every reader of an export (verify, serve, the router) checks
 * a file's SHA-256 against manifest.json before using it, so a file changed or replaced since
 * `meanet export` is refused by name instead of giving other answers than the ones verified.
 * Verify and serve check every file of the export before they use any (`checkExportedFiles`).
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { exportedFiles, type Manifest } from "../../format/manifest.js";
import { sha256 } from "../../format/hash.js";
import { Codes, MeanetError } from "../../diagnostics/index.js";

type ListedBuild = { dir: string; manifest: Pick<Manifest, "artifacts"> };

/** Which stage wrote a file, and what to run so that it writes it again. */
export interface Writer {
  /** As in "it changed since …": `the export`, `training`. */
  since: string;
  again: string;
}

const exportWriter = (dir: string): Writer => ({ since: "the export", again: `run \`meanet export ${dir}\` again` });

/** The bytes of a file manifest.json lists (`path` inside the build), refused (MN5005) when missing, unlisted, or not the file listed. */
export function readListedFile(build: ListedBuild, path: string, writer: Writer): Buffer {
  const file = join(build.dir, path);
  const { since, again } = writer;
  let bytes: Buffer;
  try {
    bytes = readFileSync(file);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new MeanetError(Codes.BuildInvalid, code === "ENOENT" ? `${file} is missing; ${again}` : `cannot read ${file} (${code ?? (e as Error).message}); ${again}`);
  }
  const listed = build.manifest.artifacts.find((a) => a.path === path);
  if (!listed) throw new MeanetError(Codes.BuildInvalid, `${file} is not listed in manifest.json's artifacts; ${again}`);
  if (sha256(bytes) !== listed.sha256) {
    throw new MeanetError(Codes.BuildInvalid, `${file} does not match the sha256 in manifest.json: it changed since ${since}; ${again}`);
  }
  return bytes;
}

/** The bytes of an exported file (`path` inside the build), refused (MN5005) when missing or not the file manifest.json lists. */
export function readExportedFile(build: ListedBuild, path: string): Buffer {
  return readListedFile(build, path, exportWriter(build.dir));
}

/**
 * Checks every file of the last export (`exportedFiles`: the partitions' files, the Triton copy,
 * whatever else the export wrote) against manifest.json; the first missing or changed one is
 * MN5005 naming it. Nothing is checked when the manifest lists no export.
 */
export function checkExportedFiles(build: { dir: string; manifest: Pick<Manifest, "artifacts" | "export"> }, which: (path: string) => boolean = () => true): void {
  for (const path of exportedFiles(build.manifest)) if (which(path)) readExportedFile(build, path);
}
