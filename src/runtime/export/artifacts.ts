/**
 * Exported files as the manifest lists them: every reader of an export (verify, serve, the router)
 * checks a file's SHA-256 against manifest.json before using it, so a file changed or replaced
 * since `meanet export` is refused by name instead of giving other answers than the ones verified.
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import type { Manifest } from "../../format/manifest.js";
import { sha256 } from "../../format/hash.js";
import { Codes, MeanetError } from "../../diagnostics/index.js";

/** The bytes of an exported file (`path` inside the build), refused (MN5005) when missing or not the file manifest.json lists. */
export function readExportedFile(build: { dir: string; manifest: Pick<Manifest, "artifacts"> }, path: string): Buffer {
  const file = join(build.dir, path);
  const again = `run \`meanet export ${build.dir}\` again`;
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
    throw new MeanetError(Codes.BuildInvalid, `${file} does not match the sha256 in manifest.json: it changed since the export; ${again}`);
  }
  return bytes;
}
