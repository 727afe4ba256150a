import type { ParseArgsConfig } from "node:util";
import { EXIT_OK, UsageError } from "../diagnostics/index.js";
import { parseFlags } from "../runtime/argv.js";
import type { Io } from "./io.js";

type Options = NonNullable<ParseArgsConfig["options"]>;
type WithHelp<O extends Options> = O & { help: { type: "boolean"; short: "h" } };

/** The flags of a command as parseArgs reads them (`--help` included). */
export type FlagValues<O extends Options> = ReturnType<typeof parseFlags<WithHelp<O>, true>>["values"];

export interface CommandSpec<O extends Options, A, R extends number | Promise<number>> {
  usage: string;
  /** The command's flags, as parseArgs options; `--help`/`-h` is added. */
  options: O;
  /** The arguments that are not flags, by name: the command takes exactly these; a last name ending in `…` takes one or more. */
  positionals: readonly string[];
  /** Flags the command cannot run without; a missing or empty one prints the usage. */
  required?: readonly (keyof O & string)[];
  /** Reads the flags into what `run` needs; a UsageError thrown here is printed with the usage. */
  read(values: FlagValues<O>, positionals: string[]): A;
  /** The command's work. A MeanetError it throws is printed by main, which maps its code to the exit code. */
  run(args: A, io: Io): R;
}

/**
 * A command's preamble, the same for every command: strict flags (an unknown flag or a missing
 * value is a usage error, exit 2), `--help` printing the usage, the count of file arguments and
 * the required flags checked (too many arguments is a usage error even with `--help`), then the
 * flags read and the command run.
 */
export function defineCommand<O extends Options, A, R extends number | Promise<number>>(spec: CommandSpec<O, A, R>): (argv: string[], io: Io) => R | number {
  const options = { ...spec.options, help: { type: "boolean", short: "h" } } as WithHelp<O>;
  const withUsage = (e: unknown) => (e instanceof UsageError ? new UsageError(`${e.message}\n${spec.usage}`) : e);
  return (argv, io) => {
    let parsed;
    try {
      parsed = parseFlags(argv, options, true);
    } catch (e) {
      throw withUsage(e);
    }
    const { values, positionals } = parsed;
    const given = values as Record<string, unknown>;
    const variadic = spec.positionals.at(-1)?.endsWith("…") ?? false;
    if (!variadic && positionals.length > spec.positionals.length) throw new UsageError(spec.usage);
    if (given.help) {
      io.out(spec.usage);
      return EXIT_OK;
    }
    const counted = variadic ? positionals.length < spec.positionals.length : positionals.length !== spec.positionals.length;
    if (counted || spec.required?.some((flag) => !given[flag])) throw new UsageError(spec.usage);
    let args: A;
    try {
      args = spec.read(values, positionals);
    } catch (e) {
      throw withUsage(e);
    }
    return spec.run(args, io);
  };
}
