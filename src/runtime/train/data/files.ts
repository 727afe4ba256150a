import { readFileSync } from "node:fs";
import { gunzipSync } from "node:zlib";
import { corrupt, missing, unreadable } from "./errors.js";

/** The bytes of a data file, gunzipped when it is gzip data (decided by content, not by name). */
export interface DataBytes {
  bytes: Uint8Array;
  /** true when the file was gzip data; the bytes are then the decompressed ones. */
  gzipped: boolean;
}

const GZIP_MAGIC_0 = 0x1f;
const GZIP_MAGIC_1 = 0x8b;

export function isGzip(bytes: Uint8Array): boolean {
  return bytes.length >= 2 && bytes[0] === GZIP_MAGIC_0 && bytes[1] === GZIP_MAGIC_1;
}

/** Reads a data file; a missing, unreadable or corrupt-gzip file throws a DataError. */
export function readDataFile(file: string): DataBytes {
  const bytes = readFileBytes(file);
  if (!isGzip(bytes)) return { bytes, gzipped: false };
  return { bytes: gunzip(bytes, file), gzipped: true };
}

/** A file's bytes as they are; a missing file is MN5004, a directory or an unreadable file MN5001. */
export function readFileBytes(file: string): Uint8Array {
  let raw: Buffer;
  try {
    raw = readFileSync(file);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === "ENOENT" || code === "ENOTDIR") throw missing(file);
    if (code === "EISDIR") throw unreadable(file, "is a directory, expected a data file");
    if (code === "EACCES" || code === "EPERM") throw unreadable(file, "cannot read the file: permission denied");
    throw unreadable(file, `cannot read the file: ${(e as Error).message}`);
  }
  return new Uint8Array(raw.buffer, raw.byteOffset, raw.byteLength);
}

/** Decompresses gzip data, turning zlib's terse errors into messages a user can act on. */
export function gunzip(bytes: Uint8Array, file: string): Uint8Array {
  try {
    const out = gunzipSync(bytes);
    return new Uint8Array(out.buffer, out.byteOffset, out.byteLength);
  } catch (e) {
    const err = e as NodeJS.ErrnoException;
    if (err.code === "Z_BUF_ERROR") {
      throw corrupt(file, `gzip data is truncated: the ${bytes.length}-byte file ends before the compressed stream does (an interrupted download?)`);
    }
    if (err.message === "incorrect data check") {
      throw corrupt(file, "gzip data is corrupt: the CRC-32 checksum in the trailer does not match the decompressed data");
    }
    if (err.message === "incorrect header check") {
      throw corrupt(file, "gzip data is corrupt: after the compressed stream the file holds bytes that are not another gzip member");
    }
    throw corrupt(file, `gzip data is corrupt: ${err.message}`);
  }
}
