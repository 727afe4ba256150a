/** Reading request bodies within a size limit, and writing JSON (or JSON + binary tensor) responses. */
import type { IncomingMessage, ServerResponse } from "node:http";
import { HttpError, type ResponseBody } from "./protocol.js";

const HEADER_LENGTH = "inference-header-content-length";

/** How much of a too-large body is still read, and thrown away, so the client gets to read its 413. */
const DISCARD_BYTES = 8 * 1024 * 1024;
const DISCARD_MS = 2_000;

/** A 413. The rest of the body is discarded, not buffered, up to DISCARD_BYTES; beyond that the connection is closed. */
export class BodyTooLarge extends HttpError {
  constructor(limit: number, what: string, declared: number | undefined) {
    const hopeless = declared !== undefined && declared - limit > DISCARD_BYTES;
    super(413, `request body ${what} exceeds this server's limit of ${limit} bytes (--max-body-bytes)`, hopeless ? { connection: "close" } : {});
  }
}

/**
 * The whole body, or a 413 as soon as it is known to be too large: from Content-Length before
 * anything is read, or while counting the bytes of a chunked body. What is buffered is never more
 * than the limit plus one chunk. A body not complete within `timeoutMs` of the request's headers
 * is a 408 that closes the connection, so a client trickling bytes (slowloris) cannot hold a
 * connection and its buffer for long.
 */
export function readBody(req: IncomingMessage, limit: number, timeoutMs: number): Promise<Buffer> {
  const header = req.headers["content-length"];
  const declared = header === undefined ? undefined : Number(header);
  if (declared !== undefined && declared > limit) {
    return Promise.reject(new BodyTooLarge(limit, `of ${declared} bytes`, declared));
  }
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let total = 0;
    let done = false;
    const timer = setTimeout(() => {
      req.pause();
      finish(new HttpError(408, `the request body did not arrive within ${timeoutMs} ms (--body-timeout-ms); ${total} bytes came`, { connection: "close" }));
    }, timeoutMs);
    const finish = (e?: Error) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      req.off("data", onData);
      if (e) reject(e);
      else resolve(chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, total));
    };
    const onData = (chunk: Buffer) => {
      total += chunk.length;
      if (total > limit) {
        chunks.length = 0;
        req.pause();
        finish(new BodyTooLarge(limit, `of more than ${limit} bytes`, declared));
        return;
      }
      chunks.push(chunk);
    };
    req.on("data", onData);
    req.once("end", () => finish());
    req.once("error", (e) => finish(new HttpError(400, `the request body could not be read: ${e.message}`)));
    req.once("aborted", () => finish(new HttpError(400, "the client closed the connection before sending the whole body")));
  });
}

/**
 * After a 413: reads and drops the rest of the body, so a client still sending it sees the
 * response instead of a reset connection; a body that goes on too long, or for too long, has
 * its connection closed.
 */
export function discardRest(req: IncomingMessage): void {
  if (req.complete) return;
  let dropped = 0;
  const cut = () => req.socket.destroy();
  const timer = setTimeout(cut, DISCARD_MS);
  req.on("data", (chunk: Buffer) => {
    dropped += chunk.length;
    if (dropped > DISCARD_BYTES) {
      clearTimeout(timer);
      cut();
    }
  });
  req.once("end", () => clearTimeout(timer));
  req.once("close", () => clearTimeout(timer));
  req.resume();
}

/** The JSON part and the binary part of a body that uses the binary tensor extension. */
export function splitBinaryBody(req: IncomingMessage, body: Buffer): { json: Buffer; binary: Buffer | undefined } {
  const header = req.headers[HEADER_LENGTH];
  if (header === undefined) return { json: body, binary: undefined };
  const n = Number(header);
  if (!/^\d+$/.test(String(header)) || n > body.length) {
    throw new HttpError(400, `Inference-Header-Content-Length is ${JSON.stringify(header)}; it must be the byte length of the JSON at the start of the body (${body.length} bytes in all)`);
  }
  return { json: body.subarray(0, n), binary: body.subarray(n) };
}

export function sendJson(res: ServerResponse, status: number, value: unknown, headers: Record<string, string> = {}): void {
  sendBody(res, status, { json: JSON.stringify(value), binary: [] }, headers);
}

export function sendEmpty(res: ServerResponse, status: number, headers: Record<string, string> = {}): void {
  res.writeHead(status, { ...headers, "content-length": "0" });
  res.end();
}

export function sendBody(res: ServerResponse, status: number, body: ResponseBody, headers: Record<string, string> = {}): void {
  if (res.headersSent || res.destroyed) return;
  if (body.binary.length === 0) {
    res.writeHead(status, { ...headers, "content-type": "application/json", "content-length": String(Buffer.byteLength(body.json)) });
    // A string goes out in one write together with the headers; a Buffer would take a writev.
    res.end(body.json);
    return;
  }
  const json = Buffer.from(body.json, "utf8");
  const all = Buffer.concat([json, ...body.binary]);
  res.writeHead(status, {
    ...headers,
    "content-type": "application/octet-stream",
    [HEADER_LENGTH]: String(json.length),
    "content-length": String(all.length),
  });
  res.end(all);
}

export function sendError(res: ServerResponse, status: number, message: string, headers: Record<string, string> = {}): void {
  sendJson(res, status, { error: message }, headers);
}
