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
  [/^assert accuracy >= 0\.92\n/m, ""],
  ["assert cloud_fraction <= 0.25", "assert accuracy >= 0.2"],
].reduce((t, [from, to]) => replaced(t, from as string | RegExp, to as string), readFileSync("examples/fashion-mnist.meanet", "utf8"));

/** The cloud rule of the example and its deferral stage, and the paper's rule that replaces both in specs without a deferral model. */
export const DEFER_RULE = "cloud when defer(main, extension) > 0.15";
export const DEFER_STAGE = "  stage defer { defer: mlp(hidden: 16) }\n";
export const ENTROPY_RULE = "cloud when entropy(main) > 0.8";

/** `text` routed by the paper's entropy rule, without the deferral stage. */
export function withoutDeferral(text: string): string {
  return replaced(replaced(text, DEFER_RULE, ENTROPY_RULE), DEFER_STAGE, "");
}
