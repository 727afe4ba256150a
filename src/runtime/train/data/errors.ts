import { Codes, MeanetError, type Code } from "../../../diagnostics/index.js";

/**
 * A data file that is missing or does not hold what its format promises. The message names the
 * file and says what was expected and what was found, so the CLI can print it as is.
 */
export function dataError(code: Code, file: string, problem: string): MeanetError {
  return new MeanetError(code, `${file}: ${problem}`, { file });
}

/** The codes of data problems: the file does not hold its format, is not there, or cannot be read. */
export const DATA_CODES: readonly Code[] = [Codes.DataCorrupt, Codes.DataMissing, Codes.FileUnreadable];

export function isDataError(e: unknown): e is MeanetError {
  return e instanceof MeanetError && DATA_CODES.includes(e.code);
}

export function corrupt(file: string, problem: string): MeanetError {
  return dataError(Codes.DataCorrupt, file, problem);
}

export function missing(file: string, problem = "file not found"): MeanetError {
  return dataError(Codes.DataMissing, file, problem);
}

export function unreadable(file: string, problem: string): MeanetError {
  return dataError(Codes.FileUnreadable, file, problem);
}
