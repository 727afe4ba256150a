import { parseArgs, type ParseArgsConfig } from "node:util";
import { joinNegativeValues } from "../runtime/argv.js";
import { UsageError } from "./io.js";

type Options = NonNullable<ParseArgsConfig["options"]>;

/** Strict argument parsing: an unknown flag or a missing file is a usage error (exit 2), never a crash. */
export function parseCommandArgs<O extends Options>(argv: string[], options: O, usage: string, positionals: { min: number; max: number }) {
  let parsed;
  try {
    parsed = parseArgs({ args: joinNegativeValues(argv, options), options, allowPositionals: true, strict: true });
  } catch (e) {
    throw new UsageError(`${(e as Error).message}\n${usage}`);
  }
  if (parsed.positionals.length < positionals.min || parsed.positionals.length > positionals.max) {
    throw new UsageError(usage);
  }
  return parsed;
}
