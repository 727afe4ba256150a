import { createHash } from "node:crypto";

/** The hex SHA-256 of a file's bytes or a text: how manifest.json names every artifact's content. */
export function sha256(data: string | Uint8Array): string {
  return createHash("sha256").update(data).digest("hex");
}
