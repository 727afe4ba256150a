/**
 * How large a request body may be, and how many large ones the server takes on at once.
 *
 * The limit comes from the model: the longest inference request a well-formed client can send for
 * a batch of `--max-batch`, with a margin. Anything longer is refused from its Content-Length
 * before a byte of it is read.
 *
 * A large body (longer than any single-sample request can be) costs the event loop milliseconds to
 * parse and fills a whole batch. Large requests take turns: at most `LARGE_BODIES.reading` bodies
 * are read at once (a slow upload holds only one of those), and of the bodies read, one at a time
 * is parsed, run and answered. The others wait, unread, in arrival order. Small requests never
 * wait for a turn: a client sending many large bodies holds up the others by one large batch at
 * most, and the server's memory for bodies stays within a few times the limit.
 */
import type { IncomingMessage } from "node:http";
import type { Datatype } from "./datatypes.js";
import type { Gauge } from "./metrics.js";
import type { TensorSpec } from "./model.js";
import { HttpError } from "./protocol.js";

/** Room for `id`, `parameters`, `outputs` and each input's name, shape and datatype. */
export const BODY_ENVELOPE_BYTES = 16 * 1024;
/** The limit is this many times the longest well-formed body. */
export const BODY_MARGIN = 2;
/** A body is never counted large below this size, however small one sample is. */
export const LARGE_BODY_FLOOR = 64 * 1024;

export const LARGE_BODIES = {
  /** Large bodies being read, or read and waiting to be served: at most this many are in memory besides the one served. */
  reading: 4,
  /** Large requests parsed, run and answered at once. */
  serving: 1,
  /** Large requests waiting, unread, for a turn to be read; one more is a 503. */
  waiting: 64,
};

/**
 * The most characters one element takes in a JSON array, with the separator Python's `json.dumps`
 * writes (", "): the longer of its type's extremes for integers ("-128, " for INT8); for floats, a
 * double in shortest round-trip form with 17 significant digits, a sign and the exponent
 * ("-1.1754943508222875e-38, " for FP32, which clients often send as doubles).
 */
export function jsonCharsPerElement(t: Datatype): number {
  const number = t.integer ? Math.max(String(t.min).length, String(t.max).length) : "-1.".length + 16 + "e-".length + String(Math.floor(Math.log10(t.max))).length;
  return number + ", ".length;
}

/**
 * The longest well-formed body for one input and `batch` samples: its elements in JSON, nested
 * row by row ("[", "]" and ", " per array), or, with the binary tensor extension, its raw bytes,
 * whichever is longer (always the JSON).
 */
export function inputBodyBytes(spec: Pick<TensorSpec, "datatype" | "shape">, batch: number): number {
  const dims = [batch, ...spec.shape];
  const elements = dims.reduce((a, b) => a * b, 1);
  // One array for the batch, one per sample, one per row of each sample, and so on down.
  let arrays = 0;
  let rows = 1;
  for (const d of dims) {
    arrays += rows;
    rows *= d;
  }
  const json = elements * jsonCharsPerElement(spec.datatype) + arrays * "[], ".length;
  return Math.max(json, elements * spec.datatype.bytes);
}

/** The default body limit: BODY_MARGIN × the longest well-formed request of `maxBatch` samples + BODY_ENVELOPE_BYTES. */
export function requestBodyLimit(inputs: readonly Pick<TensorSpec, "datatype" | "shape">[], maxBatch: number): number {
  const longest = inputs.reduce((sum, spec) => sum + inputBodyBytes(spec, maxBatch), 0);
  return BODY_MARGIN * longest + BODY_ENVELOPE_BYTES;
}

/** Above this a body is large: longer than any single-sample request may be, and than LARGE_BODY_FLOOR. */
export function largeBodyBytes(inputs: readonly Pick<TensorSpec, "datatype" | "shape">[]): number {
  return Math.max(LARGE_BODY_FLOOR, requestBodyLimit(inputs, 1));
}

/** The Content-Length of a request, or undefined for a chunked body (or a header that is no length). */
export function declaredLength(req: Pick<IncomingMessage, "headers">): number | undefined {
  const header = req.headers["content-length"];
  return header !== undefined && /^\d+$/.test(header) ? Number(header) : undefined;
}

/** What a turn needs of a response: to hear when its connection closes. */
export interface ClosingResponse {
  once(event: "close", listener: () => void): unknown;
  off(event: "close", listener: () => void): unknown;
}

interface Waiter {
  admit(): void;
  refuse(e: HttpError): void;
}

/**
 * Turns: at most `limit` holders at once; up to `waiting` more wait in arrival order, each at most
 * `timeoutMs`; beyond that, or after it, a 503 with Retry-After.
 */
export class Turns {
  private running = 0;
  private readonly queue: Waiter[] = [];

  constructor(
    private readonly limits: { limit: number; waiting: number; timeoutMs: number; what: string },
    private readonly gauges: { holding: Gauge; waiting?: Gauge },
  ) {}

  get holding(): number {
    return this.running;
  }

  get waiting(): number {
    return this.queue.length;
  }

  /**
   * Resolves with the function that ends the turn once the request may go on; rejects with a 503
   * when it may not, or with a 499 when its client leaves while it waits (nothing is sent then).
   */
  take(res: ClosingResponse): Promise<() => void> {
    if (this.running < this.limits.limit) return Promise.resolve(this.start());
    if (this.queue.length >= this.limits.waiting) {
      return Promise.reject(busy(`${this.running} ${this.limits.what}, ${this.queue.length} waiting`));
    }
    return new Promise((resolve, reject) => {
      const leave = () => {
        clearTimeout(timer);
        res.off("close", gone);
        const i = this.queue.indexOf(waiter);
        if (i >= 0) this.queue.splice(i, 1);
        this.report();
      };
      const waiter: Waiter = {
        admit: () => {
          leave();
          resolve(this.start());
        },
        refuse: (e) => {
          leave();
          reject(e);
        },
      };
      const gone = () => waiter.refuse(new HttpError(499, "the client closed the connection while its request waited for a turn"));
      const timer = setTimeout(() => waiter.refuse(busy(`no turn came within ${this.limits.timeoutMs} ms`)), this.limits.timeoutMs);
      res.once("close", gone);
      this.queue.push(waiter);
      this.report();
    });
  }

  private start(): () => void {
    this.running++;
    this.report();
    let ended = false;
    return () => {
      if (ended) return;
      ended = true;
      this.running--;
      this.queue[0]?.admit();
      this.report();
    };
  }

  private report(): void {
    this.gauges.holding.set(this.running);
    this.gauges.waiting?.set(this.queue.length);
  }
}

/** The two kinds of turns a large request takes: one to be read, then, still holding it, one to be served. */
export interface LargeBodies {
  reading: Turns;
  serving: Turns;
}

export function largeBodyTurns(limits: typeof LARGE_BODIES, timeoutMs: number, gauges: { waiting: Gauge; reading: Gauge; serving: Gauge }): LargeBodies {
  return {
    reading: new Turns({ limit: limits.reading, waiting: limits.waiting, timeoutMs, what: "being read" }, { holding: gauges.reading, waiting: gauges.waiting }),
    // Only requests holding a reading turn wait for a serving turn, so its queue is never longer than `reading`.
    serving: new Turns({ limit: limits.serving, waiting: limits.reading, timeoutMs, what: "being served" }, { holding: gauges.serving }),
  };
}

const busy = (why: string) =>
  new HttpError(503, `the server is busy with large requests (${why}); retry shortly, or send fewer samples per request`, { "retry-after": "1", connection: "close" });
