import { formatBytes, formatCount } from "../ir/index.js";
import type { CostSummary, LayerRow } from "./summary.js";

/** A plain text table with right-aligned numeric columns. */
export function table(headers: string[], rows: string[][], numeric: boolean[]): string {
  const widths = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const fmt = (cells: string[]) => cells.map((c, i) => (numeric[i] ? c.padStart(widths[i]!) : c.padEnd(widths[i]!))).join("  ").trimEnd();
  return [fmt(headers), widths.map((w) => "-".repeat(w)).join("  "), ...rows.map(fmt)].join("\n");
}

export function formatEnergy(j: number): string {
  if (j >= 1) return `${j.toFixed(3)} J`;
  if (j >= 1e-3) return `${(j * 1e3).toFixed(3)} mJ`;
  if (j >= 1e-6) return `${(j * 1e6).toFixed(3)} µJ`;
  return `${(j * 1e9).toFixed(3)} nJ`;
}

export function formatSeconds(s: number): string {
  return s >= 1 ? `${s.toFixed(3)} s` : `${(s * 1e3).toFixed(3)} ms`;
}

const budget = (v: number | null, f: (n: number) => string) => (v === null ? "-" : f(v));

/** What `meanet inspect` prints: blocks, devices, routes, link tensors and auto cuts. */
export function renderInspect(s: CostSummary): string {
  const out: string[] = [];
  out.push(`model ${s.model}: input ${s.input.name} ${s.input.dtype}[${s.input.shape.join(", ")}], ${s.classes} classes (${s.hardClasses} hard), objective ${s.objective}`);
  out.push("");
  out.push("Blocks");
  out.push(
    table(
      ["block", "device", "params", "MACs", "weights", "peak act."],
      [
        ...s.blocks.map((b) => [b.name, b.device, b.params.toLocaleString("en-US"), b.macs.toLocaleString("en-US"), formatBytes(b.weightBytes), formatBytes(b.peakActivationBytes)]),
        // The learned deferral model is not a block, but the edge stores and runs it.
        ...(s.deferral ? [[`(deferral over ${s.deferral.exits.join(", ")})`, "edge", s.deferral.params.toLocaleString("en-US"), s.deferral.macs.toLocaleString("en-US"), formatBytes(s.deferral.weightBytes), "-"]] : []),
      ],
      [false, false, true, true, true, true],
    ),
  );
  out.push("");
  out.push("Devices");
  out.push(
    table(
      ["device", "preset", "precision", "params", "MACs", "weights", "budget", "peak act.", "budget", "MAC budget"],
      s.devices.map((d) => [
        d.name,
        d.preset ?? "-",
        d.precision,
        d.params.toLocaleString("en-US"),
        d.macs.toLocaleString("en-US"),
        formatBytes(d.weightBytes),
        budget(d.budgets.weightMemoryBytes, formatBytes),
        formatBytes(d.peakActivationBytes),
        budget(d.budgets.activationMemoryBytes, formatBytes),
        budget(d.budgets.macsPerInference, formatCount),
      ]),
      [false, false, false, true, true, true, true, true, true, true],
    ),
  );
  out.push("");
  out.push("Routes (cost of one input leaving at each exit)");
  out.push(
    table(
      ["exit", "runs", "edge MACs", "cloud MACs", "sent", "edge energy", "latency"],
      s.routes.map((r) => [r.exit, r.blocks.join("+") + (r.deferral ? "+deferral" : ""), r.edgeMacs.toLocaleString("en-US"), r.cloudMacs.toLocaleString("en-US"), formatBytes(r.bytesSent), formatEnergy(r.energyJ), formatSeconds(r.latencyS)]),
      [false, false, true, true, true, true, true],
    ),
  );
  if (s.crossing.length) {
    out.push("");
    out.push("Tensors sent from edge to cloud");
    out.push(table(["tensor", "shape", "bytes"], s.crossing.map((t) => [t.name, t.shape.join("×"), formatBytes(t.bytes)]), [false, false, true]));
  }
  for (const a of s.autoCuts) {
    out.push("");
    out.push(`Cut candidates for auto block ${a.block} (* = chosen)`);
    out.push(
      table(
        ["", "edge runs through", "edge MACs", "cloud MACs", "sent", "edge energy", "latency", "fits"],
        a.candidates.map((c, i) => [i === a.chosen ? "*" : "", c.after, c.edgeMacs.toLocaleString("en-US"), c.cloudMacs.toLocaleString("en-US"), formatBytes(c.bytesSent), formatEnergy(c.energyJ), formatSeconds(c.latencyS), c.feasible ? "yes" : `no: ${c.reason}`]),
        [false, false, true, true, true, true, true, false],
      ),
    );
  }
  return out.join("\n");
}

/** `meanet inspect --layers`: one row per layer (IR node). */
export function renderLayers(rows: LayerRow[]): string {
  return table(
    ["layer", "op", "output", "params", "MACs", "device", "source"],
    rows.map((r) => [r.name, r.op, r.shape.join("×"), r.params.toLocaleString("en-US"), r.macs.toLocaleString("en-US"), r.device, r.source ?? "-"]),
    [false, false, false, true, true, false, false],
  );
}
