/**
 * One keep-alive HTTP/1.1 connection on a raw TCP socket, speaking just enough of the protocol
 * for the serving benchmarks (a request at a time; replies with Content-Length, as `meanet serve`
 * always sends): a load generator should cost the machine little, like wrk.
 */
import { createConnection, type Socket } from "node:net";

export interface RawReply {
  status: number;
  body: string;
}

export class RawConnection {
  private socket: Socket | undefined;
  private pending: Buffer = Buffer.alloc(0);
  private waiting: ((r: RawReply | undefined) => void) | undefined;
  private static readonly open = new Set<Socket>();

  constructor(
    private readonly host: string,
    private readonly port: number,
  ) {}

  /** Sends one request; resolves with the reply, or undefined when the connection closed first. */
  send(path: string, headers: Record<string, string>, body: string | Buffer): Promise<RawReply | undefined> {
    return new Promise((resolve) => {
      this.waiting = resolve;
      this.socket ??= this.connect();
      const head = Object.entries(headers).map(([k, v]) => `${k}: ${v}\r\n`).join("");
      const start = `POST ${path} HTTP/1.1\r\nhost: ${this.host}:${this.port}\r\n${head}content-length: ${Buffer.byteLength(body)}\r\n\r\n`;
      if (typeof body === "string") this.socket.write(start + body);
      else this.socket.write(Buffer.concat([Buffer.from(start), body]));
    });
  }

  /** Closes every connection this module opened. */
  static destroyAll(): void {
    for (const s of RawConnection.open) s.destroy();
  }

  private settle(r: RawReply | undefined): void {
    const w = this.waiting;
    this.waiting = undefined;
    w?.(r);
  }

  private connect(): Socket {
    const s = createConnection({ host: this.host, port: this.port });
    s.setNoDelay(true);
    RawConnection.open.add(s);
    s.on("data", (chunk: Buffer) => this.onData(chunk));
    s.on("error", () => {});
    s.on("close", () => {
      if (this.socket === s) this.socket = undefined;
      RawConnection.open.delete(s);
      this.pending = Buffer.alloc(0);
      this.settle(undefined);
    });
    return s;
  }

  private onData(chunk: Buffer): void {
    this.pending = this.pending.length ? Buffer.concat([this.pending, chunk]) : chunk;
    const end = this.pending.indexOf("\r\n\r\n");
    if (end < 0) return;
    const head = this.pending.subarray(0, end).toString("latin1");
    const length = Number(/\r\ncontent-length: *(\d+)/i.exec(head)?.[1] ?? NaN);
    if (!(this.pending.length >= end + 4 + length)) return;
    const body = this.pending.subarray(end + 4, end + 4 + length).toString("utf8");
    this.pending = this.pending.subarray(end + 4 + length);
    this.settle({ status: Number(head.slice(9, 12)), body });
  }
}
