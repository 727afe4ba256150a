/**
 * `meanet serve` as a child process for the serving benchmarks: started with the given arguments,
 * ready once it prints `listening on URL`. Its stderr (start-up line, request log) is counted and
 * its tail kept for the error when it exits before listening.
 */
import { spawn, type ChildProcess } from "node:child_process";

export interface ServeChild {
  process: ChildProcess;
  url: URL;
  /** Resolves with the exit code once the server has stopped. */
  exited: Promise<number | null>;
  /** The first line the server wrote to stderr (its start-up line), and the count of lines so far. */
  startup(): string;
  logLines(): number;
}

/** `prefix` runs the server under another command, such as `taskset -c 0` to pin it to a core. */
export async function startServe(nodeArgs: string[], meanetBin: string, serveArgs: string[], prefix: string[] = []): Promise<ServeChild> {
  const argv = [process.execPath, ...nodeArgs, meanetBin, "serve", ...serveArgs];
  const command = [...prefix, ...argv];
  const server = spawn(command[0]!, command.slice(1), { stdio: ["ignore", "pipe", "pipe"] });
  let startup = "";
  let logLines = 0;
  let lastErr = "";
  server.stderr!.on("data", (c: Buffer) => {
    const t = c.toString();
    if (!startup) startup = t.split("\n")[0]!;
    logLines += t.split("\n").length - 1;
    lastErr = t.slice(-2000);
  });
  const exited = new Promise<number | null>((resolve) => server.on("exit", (code) => resolve(code)));
  const url = await new Promise<URL>((resolve, reject) => {
    let out = "";
    server.stdout!.on("data", (c: Buffer) => {
      out += c.toString();
      const m = /listening on (\S+)\n/.exec(out);
      if (m) resolve(new URL(m[1]!));
    });
    server.on("exit", () => reject(new Error(`meanet serve exited:\n${lastErr}`)));
  });
  return { process: server, url, exited, startup: () => startup, logLines: () => logLines };
}
