/** A minimal LSP client for tests and benchmarks: Content-Length framing over a child's stdio, requests by id, notifications in order. */
import type { ChildProcessWithoutNullStreams } from "node:child_process";

export interface LspMessage {
  id?: number;
  method?: string;
  params?: any;
  result?: any;
  error?: { message: string };
}

export class LspClient {
  private buffer = Buffer.alloc(0);
  private nextId = 1;
  private readonly pending = new Map<number, (m: LspMessage) => void>();
  readonly notifications: LspMessage[] = [];
  private readonly waiters: { test: (m: LspMessage) => boolean; resolve: (m: LspMessage) => void }[] = [];

  constructor(readonly child: ChildProcessWithoutNullStreams) {
    child.stdout.on("data", (chunk: Buffer) => {
      this.buffer = Buffer.concat([this.buffer, chunk]);
      for (;;) {
        const end = this.buffer.indexOf("\r\n\r\n");
        if (end < 0) return;
        const length = Number(/Content-Length: (\d+)/i.exec(this.buffer.subarray(0, end).toString())![1]);
        if (this.buffer.length < end + 4 + length) return;
        const m = JSON.parse(this.buffer.subarray(end + 4, end + 4 + length).toString()) as LspMessage;
        this.buffer = this.buffer.subarray(end + 4 + length);
        this.receive(m);
      }
    });
  }

  private receive(m: LspMessage): void {
    if (m.id !== undefined && !m.method) {
      this.pending.get(m.id)?.(m);
      this.pending.delete(m.id);
      return;
    }
    this.notifications.push(m);
    for (const w of [...this.waiters]) {
      if (w.test(m)) {
        this.waiters.splice(this.waiters.indexOf(w), 1);
        w.resolve(m);
      }
    }
  }

  private send(m: object): void {
    const body = JSON.stringify({ jsonrpc: "2.0", ...m });
    this.child.stdin.write(`Content-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`);
  }

  request(method: string, params: unknown): Promise<any> {
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      this.pending.set(id, (m) => (m.error ? reject(new Error(m.error.message)) : resolve(m.result)));
      this.send({ id, method, params });
    });
  }

  notify(method: string, params: unknown): void {
    this.send({ method, params });
  }

  /** The next notification (from now) that passes `test`. */
  next(test: (m: LspMessage) => boolean): Promise<LspMessage> {
    return new Promise((resolve) => this.waiters.push({ test, resolve }));
  }
}

