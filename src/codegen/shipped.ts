/**
 * What an export ships, beside what the compiler counted: per file its precision, its weight bytes
 * as compiled (parameters at the precision, the figure checked against the budgets) and as shipped
 * (the file's initializers), and the file's size; then each device's totals against its budget.
 */
import type { Manifest } from "../format/manifest.js";
import { table } from "./table.js";

export interface ShippedRow {
  file: string;
  device: string;
  precision: string;
  compiledWeightBytes: number;
  shippedWeightBytes: number;
  fileBytes: number;
  reference: string | null;
}

export interface ShippedSummary {
  files: ShippedRow[];
  devices: { device: string; compiledWeightBytes: number; shippedWeightBytes: number; budgetBytes: number | null }[];
}

export function shippedSummary(manifest: Manifest): ShippedSummary | undefined {
  const exp = manifest.export;
  if (!exp) return undefined;
  const files = exp.partitions.map((p) => ({
    file: p.path,
    device: p.device,
    precision: p.precision ?? "fp32",
    compiledWeightBytes: p.weightBytes?.compiled ?? NaN,
    shippedWeightBytes: p.weightBytes?.shipped ?? NaN,
    fileBytes: manifest.artifacts.find((a) => a.path === p.path)?.bytes ?? NaN,
    reference: p.reference ?? null,
  }));
  const devices = (["edge", "cloud"] as const)
    .filter((d) => files.some((f) => f.device === d))
    .map((d) => {
      const mine = files.filter((f) => f.device === d);
      return { device: d, compiledWeightBytes: mine.reduce((n, f) => n + f.compiledWeightBytes, 0), shippedWeightBytes: mine.reduce((n, f) => n + f.shippedWeightBytes, 0), budgetBytes: manifest.devices[d].weightMemoryBytes };
    });
  return { files, devices };
}

const kib = (n: number) => (Number.isFinite(n) ? `${(n / 1024).toFixed(1)} KiB` : "—");
const ratio = (a: number, b: number) => (Number.isFinite(a) && b > 0 ? `${((a / b - 1) * 100 >= 0 ? "+" : "")}${((a / b - 1) * 100).toFixed(1)}%` : "—");

export function renderShipped(s: ShippedSummary): string {
  const files = table(
    ["file", "precision", "weights compiled", "weights shipped", "difference", "file size", "float32 reference"],
    s.files.map((f) => [f.file, f.precision, kib(f.compiledWeightBytes), kib(f.shippedWeightBytes), ratio(f.shippedWeightBytes, f.compiledWeightBytes), kib(f.fileBytes), f.reference ?? ""]),
    [false, false, true, true, true, true, false],
  );
  const devices = table(
    ["device", "weights compiled", "weights shipped", "budget"],
    s.devices.map((d) => [d.device, kib(d.compiledWeightBytes), kib(d.shippedWeightBytes), d.budgetBytes === null ? "" : kib(d.budgetBytes)]),
    [false, true, true, true],
  );
  return `Exported files (weights as the compiler counts them, and as the files hold them)\n${files}\n\n${devices}`;
}

/** The heading export's section of report.md starts with; an export replaces the section an earlier one wrote. */
export const SHIPPED_HEADING = "## Exported files";

/** report.md's section on what the export ships, in Markdown. */
export function shippedMarkdown(s: ShippedSummary): string {
  const rows = s.files.map((f) => `| \`${f.file}\` | ${f.precision} | ${kib(f.compiledWeightBytes)} | ${kib(f.shippedWeightBytes)} | ${ratio(f.shippedWeightBytes, f.compiledWeightBytes)} | ${kib(f.fileBytes)} | ${f.reference ? `\`${f.reference}\`` : ""} |`);
  const devices = s.devices.map((d) => `| ${d.device} | ${kib(d.compiledWeightBytes)} | ${kib(d.shippedWeightBytes)} | ${d.budgetBytes === null ? "" : kib(d.budgetBytes)} |`);
  return [
    SHIPPED_HEADING,
    "",
    "Written by `meanet export`: each file at the precision of its device, its weights as the compiler counts them (parameters at that precision, the figure checked against the budgets) and as the file holds them.",
    "",
    "| file | precision | weights compiled | weights shipped | difference | file size | float32 reference |",
    "|---|---|---:|---:|---:|---:|---|",
    ...rows,
    "",
    "| device | weights compiled | weights shipped | budget |",
    "|---|---:|---:|---:|",
    ...devices,
    "",
  ].join("\n");
}

/** report.md with export's section in place of any earlier one. */
export function withShippedSection(report: string, s: ShippedSummary): string {
  const at = report.indexOf(`\n${SHIPPED_HEADING}\n`);
  const before = (at >= 0 ? report.slice(0, at) : report).trimEnd();
  return `${before}\n\n${shippedMarkdown(s)}`;
}
