import { Codes } from "../../diagnostics/index.js";

export type ServeErrorCode = typeof Codes.FileUnreadable | typeof Codes.BuildInvalid | typeof Codes.OutputFailed;

/** The server cannot start: an unreadable token file (also for `meanet run`), or an address it cannot listen on. */
export class ServeError extends Error {
  override readonly name = "ServeError";

  constructor(
    readonly code: ServeErrorCode,
    message: string,
  ) {
    super(message);
  }
}
