import { Codes } from "../../diagnostics/index.js";

export type ArtifactErrorCode = typeof Codes.BuildInvalid | typeof Codes.WeightsMissing | typeof Codes.WeightsMismatch | typeof Codes.OutputFailed;

/** A build directory, weight file or exported model that cannot be used; the message names the file or block. */
export class ArtifactError extends Error {
  override readonly name = "ArtifactError";

  constructor(
    readonly code: ArtifactErrorCode,
    message: string,
  ) {
    super(message);
  }
}
