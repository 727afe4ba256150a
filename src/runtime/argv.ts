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
