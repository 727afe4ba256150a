import type { Code } from "./codes.js";

/** How a failure ends a command: 1 for a problem with the spec, the data or the artifacts, 2 for a wrong command line. */
export const EXIT_OK = 0;
export const EXIT_ERRORS = 1;
export const EXIT_USAGE = 2;

/**
 * The one error type that reaches the user: a catalog code, a message that names the problem and
 * where it is (a file, a block, a flag), and notes printed after it (what was not done, what to do).
 * The CLI's entry point prints it as `error CODE: message` and maps its code to an exit code;
 * any other exception is a bug.
 */
export class MeanetError extends Error {
  override readonly name = "MeanetError";

  /** The file the problem is in, when there is one (the message names it too). */
  readonly file: string | undefined;
  readonly notes: readonly string[];

  constructor(
    readonly code: Code,
    message: string,
    where: { file?: string; notes?: readonly string[] } = {},
  ) {
    super(message);
    this.file = where.file;
    this.notes = where.notes ?? [];
  }

  /** The same failure with one more note (a command says what it did not do). */
  withNote(note: string): MeanetError {
    const e = new MeanetError(this.code, this.message, { ...(this.file !== undefined ? { file: this.file } : {}), notes: [...this.notes, note] });
    e.stack = this.stack;
    return e;
  }

  /** As the CLI prints it. */
  render(): string {
    return [`error ${this.code}: ${this.message}`, ...this.notes].join("\n");
  }
}

/** A wrong command line: an unknown flag, a missing file argument, a flag value out of range. */
export class UsageError extends MeanetError {
  constructor(message: string) {
    super("MN0001", message);
  }

  override render(): string {
    return this.message;
  }

  /** Still a usage error: the note follows the message, as the usage line does. */
  override withNote(note: string): UsageError {
    const e = new UsageError(`${this.message}\n${note}`);
    e.stack = this.stack;
    return e;
  }
}

/** The exit code of a failure; the only mapping from errors to exit codes. */
export function exitCodeOf(e: MeanetError): number {
  return e.code === "MN0001" ? EXIT_USAGE : EXIT_ERRORS;
}
