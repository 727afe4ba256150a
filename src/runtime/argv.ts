/**
 * Command lines of meanet's commands and of the programs a build generates (train/train.ts,
 * edge/router.ts): parsing, integer flags, and how a program reports a failure.
 */
import { parseArgs, type ParseArgsConfig } from "node:util";
import { closest, exitCodeOf, EXIT_USAGE, MeanetError, UsageError } from "../diagnostics/index.js";

type Options = NonNullable<ParseArgsConfig["options"]>;

/**
 * node:util's parseArgs reads `--limit -5` as a flag missing its value followed by an unknown
 * option, and says the argument "is ambiguous". Joining a negative number to the option that
 * takes it (`--limit=-5`) hands the value to the command, whose own check says what it expects.
 */
export function joinNegativeValues(argv: readonly string[], options: Readonly<Record<string, { type: "string" | "boolean" }>>): string[] {
  const out: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === "--") {
      out.push(...argv.slice(i));
      break;
    }
    const next = argv[i + 1];
    if (a.startsWith("--") && options[a.slice(2)]?.type === "string" && next !== undefined && /^-\.?\d/.test(next)) {
      out.push(`${a}=${next}`);
      i++;
    } else out.push(a);
  }
  return out;
}

/**
 * Strict parsing (negative values joined to their flags): an unknown flag, a missing value or an
 * unexpected argument is a UsageError in meanet's words, naming the argument and listing the flags
 * the command takes (parseArgs's own text quotes unevenly and speaks of its own conventions).
 */
export function parseFlags<O extends Options, P extends boolean = false>(argv: readonly string[], options: O, allowPositionals?: P) {
  const args = joinNegativeValues(argv, options);
  try {
    return parseArgs({ args, options, allowPositionals: (allowPositionals ?? false) as P, strict: true });
  } catch (e) {
    throw new UsageError(flagProblem(args, options, Boolean(allowPositionals)) ?? (e as Error).message);
  }
}

/** The flags of a command as a usage error lists them: `--out (-o), --data, --help (-h)`. */
function flagList(options: Options): string {
  return Object.entries(options)
    .map(([name, o]) => `--${name}${o.short ? ` (-${o.short})` : ""}`)
    .join(", ");
}

/** What parseArgs refused in `args`, said for a user; undefined when nothing is found (parseArgs's message is used then). */
function flagProblem(args: string[], options: Options, allowPositionals: boolean): string | undefined {
  const { tokens } = parseArgs({ args, options, allowPositionals: true, strict: false, tokens: true });
  for (const t of tokens) {
    if (t.kind === "positional" && !allowPositionals) return `unexpected argument \`${t.value}\``;
    if (t.kind !== "option") continue;
    const o = options[t.name];
    if (!o) {
      const near = closest(t.rawName, Object.keys(options).map((n) => `--${n}`));
      return `unknown flag \`${t.rawName}\`${near ? ` (did you mean \`${near}\`?)` : ""}; the flags are ${flagList(options)}`;
    }
    if (o.type === "boolean" && t.value !== undefined) return `${t.rawName} takes no value, not \`${t.value}\``;
    if (o.type === "string" && t.value === undefined) return `${t.rawName} needs a value`;
    if (o.type === "string" && t.inlineValue === false && t.value.startsWith("-")) return `${t.rawName} needs a value, not the flag \`${t.value}\` (write --${t.name}=${t.value} if that is the value)`;
  }
  return undefined;
}

/**
 * The value of an integer flag, undefined when it is absent. Anything but digits, or a number
 * outside [min, max], is a UsageError naming the flag and what it takes: `--limit must be an
 * integer ≥ 1, not \`x\``, or with a maximum `--port must be an integer from 0 to 65535, not \`x\``.
 */
export function integerFlag(name: string, text: string | undefined, range: { min: number; max?: number }): number | undefined {
  if (text === undefined) return undefined;
  const { min, max } = range;
  const n = Number(text);
  if (!/^\d+$/.test(text) || n < min || n > (max ?? Number.MAX_SAFE_INTEGER)) {
    throw new UsageError(`--${name} must be an integer ${max === undefined ? `≥ ${min}` : `from ${min} to ${max}`}, not \`${text}\``);
  }
  return n;
}

/** A real-valued flag in [min, max], undefined when absent; a UsageError naming the flag otherwise. */
export function numberFlag(name: string, text: string | undefined, range: { min: number; max: number }): number | undefined {
  if (text === undefined) return undefined;
  const x = Number(text);
  if (text.trim() === "" || !Number.isFinite(x) || x < range.min || x > range.max) throw new UsageError(`--${name} must be a number from ${range.min} to ${range.max}, not \`${text}\``);
  return x;
}

/**
 * How a generated program ends on a failure, as the CLI does: a usage error prints its message
 * and the program's usage (exit 2), another MeanetError `error CODE: message` (exit 1). Anything
 * else is a bug and is thrown.
 */
export function programFailure(e: unknown, usage: string, write: (text: string) => void = (t) => process.stderr.write(t)): number {
  if (!(e instanceof MeanetError)) throw e;
  const code = exitCodeOf(e);
  write(`${e.render()}${code === EXIT_USAGE ? `\n${usage}` : ""}\n`);
  return code;
}
