import type { Diagnostic } from "./diagnostic.js";
import type { Span } from "./source.js";

export function location(span: Span | undefined): { file: string; line: number; column: number } {
  if (!span) return { file: "", line: 0, column: 0 };
  const { line, column } = span.source.position(span.start);
  return { file: span.source.name, line, column };
}

/** A code frame: the offending line(s) with a caret run under the span. */
export function codeFrame(span: Span): string {
  const { source } = span;
  const start = source.position(span.start);
  const end = source.position(Math.max(span.start, span.end - 1));
  const gutter = String(start.line).length + 1;
  const text = source.lineText(start.line);
  const caretEnd = end.line === start.line ? end.column : text.length;
  const width = Math.max(1, caretEnd - start.column + 1);
  const pad = (s: string) => s.padStart(gutter);
  const lines = [`${pad(String(start.line))} | ${text}`];
  lines.push(`${pad("")} | ${" ".repeat(start.column - 1)}${"^".repeat(width)}`);
  return lines.join("\n");
}

/** Human-readable rendering, as printed by `meanet check`. */
export function renderDiagnostic(d: Diagnostic): string {
  const loc = location(d.span);
  const where = d.span ? `${loc.file}:${loc.line}:${loc.column}: ` : "";
  const out = [`${where}${d.severity} ${d.code}: ${d.message}`];
  if (d.span) out.push(codeFrame(d.span));
  for (const r of d.related ?? []) {
    const rl = location(r.span);
    out.push(`  note: ${r.message} (${rl.file}:${rl.line}:${rl.column})`);
  }
  if (d.hint) out.push(`  hint: ${d.hint}`);
  return out.join("\n");
}

export function renderDiagnostics(list: Diagnostic[]): string {
  return list.map(renderDiagnostic).join("\n\n");
}

export interface DiagnosticJson {
  code: string;
  severity: string;
  message: string;
  file: string;
  line: number;
  column: number;
  hint: string | null;
}

export function diagnosticToJson(d: Diagnostic): DiagnosticJson {
  const loc = location(d.span);
  return { code: d.code, severity: d.severity, message: d.message, ...loc, hint: d.hint ?? null };
}
