import { readFileSync } from "node:fs";

/** `text` with `from` replaced; throws when the text has no `from`, so a spec edit cannot silently do nothing. */
export function replaced(text: string, from: string | RegExp, to: string): string {
  const next = text.replace(from, to);
  if (next === text) throw new Error(`the spec has no ${String(from)}`);
  return next;
}

/** The Fashion-MNIST example with one epoch per stage and evaluation assertions a briefly trained model meets. */
export const SPEC = [
  [/epochs: \d+/g, "epochs: 1"],
  [/^assert main\.accuracy.*\n/m, ""],
  [/^assert cloud\.accuracy.*\n/m, ""],
  ["assert cloud_fraction <= 0.25", "assert accuracy >= 0.2"],
].reduce((t, [from, to]) => replaced(t, from as string | RegExp, to as string), readFileSync("examples/fashion-mnist.meanet", "utf8"));
