import type { Span } from "../../diagnostics/index.js";

/** What an expression evaluates to while lowering. Compile-time values never reach the IR as such. */
export type Value =
  | { kind: "tensor"; id: number; label: string; gradient: boolean }
  | { kind: "number"; value: number; unit: string | undefined }
  | { kind: "string"; value: string }
  | { kind: "bool"; value: boolean }
  | { kind: "list"; items: Value[] }
  /** A bare word with no binding (`same`, `all`, `hard`): meaningful only where a word is expected. */
  | { kind: "word"; name: string; span: Span }
  | { kind: "block"; name: string }
  /** Bound to a name whose value failed to evaluate: uses are silent, so one mistake is reported once. */
  | { kind: "poison" };

export function describeValue(v: Value): string {
  switch (v.kind) {
    case "tensor":
      return "a tensor";
    case "number":
      return `the number ${v.value}${v.unit ? " " + v.unit : ""}`;
    case "string":
      return `the string "${v.value}"`;
    case "bool":
      return `\`${v.value}\``;
    case "list":
      return "a list";
    case "word":
      return `the word \`${v.name}\``;
    case "block":
      return `the block \`${v.name}\``;
    case "poison":
      return "an invalid value";
  }
}

/** Unit scale factors to base units (bytes, counts, joules, bits/s, seconds). */
export const UNIT_SCALE: Record<string, { dimension: string; scale: number }> = {
  B: { dimension: "bytes", scale: 1 },
  KB: { dimension: "bytes", scale: 1e3 },
  MB: { dimension: "bytes", scale: 1e6 },
  GB: { dimension: "bytes", scale: 1e9 },
  KiB: { dimension: "bytes", scale: 1024 },
  MiB: { dimension: "bytes", scale: 1024 ** 2 },
  GiB: { dimension: "bytes", scale: 1024 ** 3 },
  K: { dimension: "count", scale: 1e3 },
  M: { dimension: "count", scale: 1e6 },
  G: { dimension: "count", scale: 1e9 },
  T: { dimension: "count", scale: 1e12 },
  pJ: { dimension: "energy", scale: 1e-12 },
  nJ: { dimension: "energy", scale: 1e-9 },
  uJ: { dimension: "energy", scale: 1e-6 },
  mJ: { dimension: "energy", scale: 1e-3 },
  J: { dimension: "energy", scale: 1 },
  bps: { dimension: "bandwidth", scale: 1 },
  Kbps: { dimension: "bandwidth", scale: 1e3 },
  Mbps: { dimension: "bandwidth", scale: 1e6 },
  Gbps: { dimension: "bandwidth", scale: 1e9 },
  ns: { dimension: "time", scale: 1e-9 },
  us: { dimension: "time", scale: 1e-6 },
  ms: { dimension: "time", scale: 1e-3 },
  s: { dimension: "time", scale: 1 },
  W: { dimension: "power", scale: 1 },
  mW: { dimension: "power", scale: 1e-3 },
};

export const DIMENSION_EXAMPLE: Record<string, string> = {
  bytes: "`2 MiB`",
  count: "`300 M`",
  energy: "`0.23 pJ`",
  bandwidth: "`10 Mbps`",
  time: "`20 ms`",
  power: "`5 W`",
  none: "a plain number",
};
