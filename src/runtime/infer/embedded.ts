/** A cloud server on a loopback port, for runs given no cloud URL: the same server as `meanet serve`. */
import { startServer } from "../serve/server.js";

export async function startEmbeddedCloud(buildDir: string, token: string | undefined): Promise<{ url: string; close(): Promise<void> }> {
  const server = await startServer({ buildDir, host: "127.0.0.1", port: 0, maxBatch: 64, maxDelayMs: 2, ...(token ? { token } : {}), log: () => {} });
  return { url: server.url, close: () => server.close() };
}
