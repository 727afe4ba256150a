import { Codes, didYouMean } from "../../diagnostics/index.js";
import type { AssertDecl, Expr } from "../../parser/index.js";
import type { AssertionIr, IrBlock, IrExit } from "../graph.js";
import type { SectionReader } from "./context.js";

/** Cost metrics known at compile time, by the unit dimension their bound is written in. */
export const COST_METRICS: Record<string, string> = { params: "count", macs: "count", weights: "bytes", activations: "bytes" };
/** Metrics known only after evaluation. */
const EXIT_METRICS: Record<string, string> = { accuracy: "none", fraction: "none" };
const GLOBAL_METRICS: Record<string, string> = { accuracy: "none", cloud_fraction: "none", energy: "energy", latency: "time" };
const OPS = ["<", "<=", ">", ">=", "==", "!="] as const;

/** `assert edge.weights <= 2 MiB`, `assert accuracy >= 0.9`, `assert main.macs <= 50 M`, `assert extension.accuracy >= 0.8`. */
export function lowerAssertions(decls: AssertDecl[], blocks: IrBlock[], exits: IrExit[], r: SectionReader): AssertionIr[] {
  const out: AssertionIr[] = [];
  const blockNames = blocks.map((b) => b.name);
  const exitNames = exits.map((e) => e.name);
  for (const d of decls) {
    const c = d.condition;
    if (c.kind !== "binary" || !(OPS as readonly string[]).includes(c.op)) {
      r.bag.error(Codes.UnknownMetric, "an assertion compares a metric with a bound, e.g. `assert edge.weights <= 2 MiB`", c.span);
      continue;
    }
    const m = metric(c.left, blockNames, exitNames, r);
    if (!m) continue;
    const value = m.dimension === "none" ? r.fraction(c.right, `the bound of \`${m.metric}\` (a fraction)`) : r.quantity(c.right, m.dimension, `the bound of \`${m.metric}\``);
    if (value === undefined) continue;
    const text = c.span.source.text.slice(c.span.start, c.span.end).replace(/\s+/g, " ");
    out.push({ metric: m.metric, op: c.op as AssertionIr["op"], value, when: m.when, text, span: d.span });
  }
  return out;
}

function metric(e: Expr, blocks: string[], exits: string[], r: SectionReader): { metric: string; dimension: string; when: "compile" | "eval" } | undefined {
  if (e.kind === "name" && GLOBAL_METRICS[e.name]) return { metric: e.name, dimension: GLOBAL_METRICS[e.name]!, when: "eval" };
  if (e.kind === "member" && e.object.kind === "name") {
    const owner = e.object.name;
    const m = e.member.name;
    const scopes = ["edge", "cloud", "total", ...blocks];
    if (COST_METRICS[m] && scopes.includes(owner)) return { metric: `${owner}.${m}`, dimension: COST_METRICS[m]!, when: "compile" };
    if (EXIT_METRICS[m] && exits.includes(owner)) return { metric: `${owner}.${m}`, dimension: EXIT_METRICS[m]!, when: "eval" };
    if (!scopes.includes(owner) && !exits.includes(owner)) {
      r.bag.error(Codes.UnknownMetric, `\`${owner}\` is not \`edge\`, \`cloud\`, \`total\`, a block or an exit`, e.object.span, { hint: didYouMean(owner, [...scopes, ...exits]) });
      return undefined;
    }
    const allowed = [...(scopes.includes(owner) ? Object.keys(COST_METRICS) : []), ...(exits.includes(owner) ? Object.keys(EXIT_METRICS) : [])];
    r.bag.error(Codes.UnknownMetric, `unknown metric \`${m}\` of \`${owner}\``, e.member.span, { hint: didYouMean(m, allowed) ?? `metrics: ${allowed.join(", ")}` });
    return undefined;
  }
  const known = Object.keys(GLOBAL_METRICS);
  r.bag.error(Codes.UnknownMetric, "unknown metric", e.span, {
    hint: e.kind === "name" ? (didYouMean(e.name, known) ?? `metrics: ${known.join(", ")}, or \`edge.weights\`, \`main.macs\`, \`main.accuracy\`…`) : "write e.g. `edge.weights`, `main.macs` or `accuracy`",
  });
  return undefined;
}
