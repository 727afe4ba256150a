import type { Code } from "./codes.js";
import type { Span } from "./source.js";

export type Severity = "error" | "warning" | "info";

export interface RelatedInfo {
  message: string;
  span: Span;
}

export interface Diagnostic {
  /** Stable code: MN1xxx syntax, MN2xxx names/semantics, MN3xxx shapes, MN4xxx budgets, MN5xxx artifacts. */
  code: Code;
  severity: Severity;
  message: string;
  span: Span | undefined;
  hint?: string;
  related?: RelatedInfo[];
}

/** Collects diagnostics; passes and rules report here instead of throwing. */
export class DiagnosticBag {
  readonly items: Diagnostic[] = [];

  add(d: Diagnostic): void {
    this.items.push(d);
  }

  error(code: Code, message: string, span: Span | undefined, extra: { hint?: string; related?: RelatedInfo[] } = {}): void {
    this.items.push({ code, severity: "error", message, span, ...extra });
  }

  warning(code: Code, message: string, span: Span | undefined, extra: { hint?: string; related?: RelatedInfo[] } = {}): void {
    this.items.push({ code, severity: "warning", message, span, ...extra });
  }

  get hasErrors(): boolean {
    return this.items.some((d) => d.severity === "error");
  }

  merge(other: Iterable<Diagnostic>): void {
    for (const d of other) this.items.push(d);
  }
}

/** Stable ordering: by file, then position, then code. */
export function sortDiagnostics(list: Diagnostic[]): Diagnostic[] {
  return [...list].sort((a, b) => {
    const fa = a.span?.source.name ?? "";
    const fb = b.span?.source.name ?? "";
    if (fa !== fb) return fa < fb ? -1 : 1;
    const sa = a.span?.start ?? -1;
    const sb = b.span?.start ?? -1;
    if (sa !== sb) return sa - sb;
    return a.code < b.code ? -1 : a.code > b.code ? 1 : 0;
  });
}
