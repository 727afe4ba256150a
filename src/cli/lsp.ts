import { defineCommand } from "./command.js";

export const usage = "usage: meanet lsp [--stdio]";

/**
 * `meanet lsp`: the language server, speaking LSP over stdin and stdout until the client sends
 * `exit` (or closes the stream). `--stdio` is accepted, as editors' clients pass it.
 */
export const lsp = defineCommand({
  usage,
  options: { stdio: { type: "boolean" } },
  positionals: [],
  read: () => ({}),
  async run() {
    const { startServer } = await import("../lsp/server.js");
    const connection = startServer();
    return new Promise<number>((resolve) => connection.onExit(() => resolve(0)));
  },
});
