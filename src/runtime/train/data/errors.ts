import { Codes } from "../../../diagnostics/index.js";

/** The codes a data file problem can carry: it does not hold its format, it is not there, it cannot be read. */
export type DataErrorCode = typeof Codes.DataCorrupt | typeof Codes.DataMissing | typeof Codes.FileUnreadable;

/**
 * A data file that is missing or does not hold what its format promises. The message names the
 * file and says what was expected and what was found, so the CLI can print it as is.
 */
export class DataError extends Error {
  override readonly name = "DataError";

  constructor(
    readonly code: DataErrorCode,
    readonly file: string,
    problem: string,
  ) {
    super(`${file}: ${problem}`);
  }
}

export function corrupt(file: string, problem: string): DataError {
  return new DataError(Codes.DataCorrupt, file, problem);
}

export function missing(file: string, problem = "file not found"): DataError {
  return new DataError(Codes.DataMissing, file, problem);
}

export function unreadable(file: string, problem: string): DataError {
  return new DataError(Codes.FileUnreadable, file, problem);
}
