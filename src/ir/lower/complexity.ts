import { Codes, didYouMean, type Span } from "../../diagnostics/index.js";
import type { ComplexityDecl } from "../../parser/index.js";
import type { HardClassSelection } from "../graph.js";
import type { SectionReader } from "./context.js";

export interface PendingSelection {
  selection: HardClassSelection;
  /** Where the exit named in `lowest_accuracy(exit, …)` was written, checked once exits exist. */
  exitSpan: Span | undefined;
}

/**
 * `complexity { hard: lowest_accuracy(main, fraction: 0.5) }`, `…(main, count: 5)` or
 * `hard: ["Shirt", "Coat"]`. Without a complexity section: the lowest-accuracy half of the first exit.
 */
export function lowerComplexity(decls: ComplexityDecl[], labels: string[], firstExit: string | undefined, r: SectionReader): PendingSelection {
  const k = labels.length;
  const half = Math.max(1, Math.min(k - 1, Math.round(k / 2)));
  const result: PendingSelection = { selection: { kind: "lowest_accuracy", exit: firstExit ?? "", count: half }, exitSpan: undefined };
  for (let i = 1; i < decls.length; i++) r.bag.error(Codes.DuplicateDeclaration, "`complexity` is declared twice", decls[i]!.span);
  const decl = decls[0];
  if (!decl) return result;
  r.properties(
    decl.properties,
    {
      hard: (v) => {
        if (v.kind === "list") {
          const items = r.strings(v, "`hard`");
          if (!items) return;
          const chosen: string[] = [];
          for (const it of items) {
            if (!labels.includes(it.value)) {
              r.bag.error(Codes.UnknownLabel, `\`${it.value}\` is not one of the labels`, it.span, { hint: didYouMean(it.value, labels) });
              continue;
            }
            if (chosen.includes(it.value)) {
              r.bag.error(Codes.DuplicateLabel, `\`${it.value}\` is listed twice`, it.span);
              continue;
            }
            chosen.push(it.value);
          }
          if (chosen.length === 0 || chosen.length >= k) {
            r.bag.error(Codes.BadComplexity, `hard classes must be some but not all of the ${k} labels, got ${chosen.length}`, v.span);
            return;
          }
          result.selection = { kind: "labels", count: chosen.length, labels: chosen };
          return;
        }
        const c = r.call(v, "hard-class selection", ["lowest_accuracy"]);
        if (!c) return;
        r.checkArgs(c, ["fraction", "count"], "lowest_accuracy");
        const exit = c.positional[0];
        for (const extra of c.positional.slice(1)) r.bag.error(Codes.UnknownArgument, "`lowest_accuracy` takes one exit; name the others `fraction:` or `count:`", extra.span);
        if (!exit || exit.kind !== "name") {
          r.bag.error(Codes.MissingArgument, "`lowest_accuracy` needs the exit whose per-class accuracy ranks the classes", c.span, { hint: "write `lowest_accuracy(main, fraction: 0.5)`" });
          return;
        }
        const fraction = c.args.get("fraction");
        const count = c.args.get("count");
        let n = half;
        if (fraction && count) {
          r.bag.error(Codes.BadComplexity, "give `fraction` or `count`, not both", count.span);
        } else if (fraction) {
          const f = r.fraction(fraction, "`fraction`");
          if (f !== undefined) n = Math.round(f * k);
        } else if (count) {
          const cnt = r.integer(count, "`count`");
          if (cnt !== undefined) n = cnt;
        }
        if (n < 1 || n >= k) {
          r.bag.error(Codes.BadComplexity, `the hard classes must number between 1 and ${k - 1} of the ${k} labels, but this selects ${n}`, (fraction ?? count ?? v).span);
          n = half;
        }
        result.selection = { kind: "lowest_accuracy", exit: exit.name, count: n };
        result.exitSpan = exit.span;
      },
    },
    "`complexity`",
  );
  return result;
}
