import { expect } from "vitest";
import { MeanetError } from "../../src/diagnostics/index.js";

/** Runs f, expects it to throw a MeanetError (a data problem, say), returns it. */
export function meanetErrorOf(f: () => unknown): MeanetError {
  try {
    f();
  } catch (e) {
    expect(e).toBeInstanceOf(MeanetError);
    return e as MeanetError;
  }
  throw new Error("expected a MeanetError, nothing was thrown");
}
