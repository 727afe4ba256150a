/**
 * The learned deferral rule across sections: `defer(…)` in the route and the deferral stage in
 * `train` must agree. One deferral model per spec, read only by rules that send inputs to the
 * cloud (the edge's own answer, which it learns to second-guess, is what the other rules give), over
 * exits the edge computes, and trained after the blocks of those exits and of the cloud.
 */
import { Codes, type DiagnosticBag, type Span } from "../../diagnostics/index.js";
import type { TrainDecl } from "../../parser/index.js";
import { measureExits, measureText, type MeasureRef } from "../../format/conditions.js";
import { defersIn, exitOnEdge } from "../../format/defer.js";
import type { IrGraph } from "../graph.js";
import { requiredBlocks } from "../passes/routeCosts.js";

/** Every `defer(…)` the rules read, with the rule it is in. */
export function deferReads(ir: Pick<IrGraph, "routing">): { ref: MeasureRef; target: string; span: Span }[] {
  return ir.routing.flatMap((rule) => {
    return defersIn(rule.when).map((ref) => ({ ref, target: rule.target, span: rule.span }));
  });
}

export function checkDeferral(ir: IrGraph, train: TrainDecl | undefined, bag: DiagnosticBag): void {
  const reads = deferReads(ir);
  const stages = ir.training.stages.map((s, i) => ({ s, i, span: train?.stages.find((d) => d.name.name === s.name)?.name.span })).filter((x) => x.s.defer);
  const onEdge = (exit: string) => exitOnEdge(ir, exit);
  for (const extra of stages.slice(1)) bag.error(Codes.BadStage, `one deferral stage per spec: \`${stages[0]!.s.name}\` already trains the deferral model`, extra.span ?? train!.span);
  if (!reads.length) {
    // A rule that failed to lower may have read `defer`: no second error for it.
    if (stages[0] && !bag.hasErrors) bag.error(Codes.BadStage, `stage \`${stages[0].s.name}\` trains a deferral model, but no routing rule reads \`defer(…)\``, stages[0].span ?? train!.span, { hint: "route with e.g. `cloud when defer(main) > calibrate(cloud_fraction: 0.1)`" });
    return;
  }
  const first = reads[0]!;
  for (const r of reads) {
    if (measureText(r.ref) !== measureText(first.ref)) {
      bag.error(Codes.BadRouteCondition, `one deferral model per spec: this rule reads \`${measureText(r.ref)}\`, an earlier one \`${measureText(first.ref)}\``, r.span);
    }
    if (onEdge(r.target)) bag.error(Codes.BadRouteCondition, `\`defer\` decides what goes to the cloud, but this rule leads to \`${r.target}\`, which runs on the edge`, r.span, { hint: "use `defer(…)` in the rules that send inputs to a cloud exit" });
    for (const x of measureExits(r.ref)) {
      if (!onEdge(x)) bag.error(Codes.BadRouteCondition, `\`defer\` reads what the edge has computed, and exit \`${x}\` is not on the edge`, r.span);
    }
  }
  const stage = stages[0];
  if (!stage) {
    bag.error(Codes.BadStage, `\`${measureText(first.ref)}\` needs a deferral model, and no stage trains one`, first.span, { hint: "add e.g. `stage defer { defer: mlp(hidden: 16) }` as the last stage of `train`" });
    return;
  }
  const cloudTargets = reads.map((r) => r.target);
  const needed = new Set(requiredBlocks(ir, [...measureExits(first.ref), ...cloudTargets]));
  ir.training.stages.forEach((s, i) => {
    if (i <= stage.i || s.defer) return;
    const late = s.train.filter((b) => needed.has(b));
    if (late.length) {
      bag.error(Codes.BadStage, `the deferral stage \`${stage.s.name}\` reads exits of blocks that stage \`${s.name}\` trains after it (${late.join(", ")})`, stage.span ?? train!.span, { hint: `move stage \`${stage.s.name}\` after stage \`${s.name}\`` });
    }
  });
}
