import Handlebars from "handlebars";
import { formatBytes, formatCount } from "../ir/index.js";
import type { CostSummary } from "./summary.js";
import { formatEnergy, formatSeconds } from "./table.js";

const TEMPLATE = `# {{model}}: build report

Input \`{{input.name}}\`: {{input.dtype}}[{{join input.shape}}], {{classes}} classes ({{hardClasses}} hard). Objective: {{objective}}.

## Blocks

| block | device | params | MACs | weights | peak activations |
|---|---|---:|---:|---:|---:|
{{#each blocks}}
| {{name}} | {{device}} | {{num params}} | {{num macs}} | {{bytes weightBytes}} | {{bytes peakActivationBytes}} |
{{/each}}
{{#if deferral}}
| (deferral over {{join deferral.exits}}) | edge | {{num deferral.params}} | {{num deferral.macs}} | {{bytes deferral.weightBytes}} | - |
{{/if}}

Total: {{num total.params}} params, {{num total.macs}} MACs.

## Devices

| device | preset | precision | params | MACs | weights | weight budget | peak activations | activation budget | MAC budget |
|---|---|---|---:|---:|---:|---:|---:|---:|---:|
{{#each devices}}
| {{name}} | {{preset}} | {{precision}} | {{num params}} | {{num macs}} | {{bytes weightBytes}} | {{budgetBytes budgets.weightMemoryBytes}} | {{bytes peakActivationBytes}} | {{budgetBytes budgets.activationMemoryBytes}} | {{budgetCount budgets.macsPerInference}} |
{{/each}}

## Routes

Cost of one input that leaves at each exit (edge energy = edge MACs × energy per MAC + bits sent × energy per bit).

| exit | blocks run | edge MACs | cloud MACs | bytes sent | edge energy | latency |
|---|---|---:|---:|---:|---:|---:|
{{#each routes}}
| {{exit}} | {{join blocks}}{{#if deferral}} + deferral model{{/if}} | {{num edgeMacs}} | {{num cloudMacs}} | {{bytes bytesSent}} | {{energy energyJ}} | {{seconds latencyS}} |
{{/each}}
{{#if crossing.length}}

## Tensors crossing the link

| tensor | shape | bytes |
|---|---|---:|
{{#each crossing}}
| {{name}} | {{shape shape}} | {{bytes bytes}} |
{{/each}}
{{/if}}
{{#each autoCuts}}

## Cut candidates for auto block {{block}}

| chosen | edge runs through | edge MACs | cloud MACs | bytes sent | edge energy | latency | fits budgets |
|---|---|---:|---:|---:|---:|---:|---|
{{#each candidates}}
| {{#if (eq @index ../chosen)}}✓{{/if}} | {{after}} | {{num edgeMacs}} | {{num cloudMacs}} | {{bytes bytesSent}} | {{energy energyJ}} | {{seconds latencyS}} | {{#if feasible}}yes{{else}}no ({{reason}}){{/if}} |
{{/each}}
{{/each}}
`;

const hb = Handlebars.create();
hb.registerHelper("num", (n: number) => n.toLocaleString("en-US"));
hb.registerHelper("bytes", (n: number) => formatBytes(n));
hb.registerHelper("budgetBytes", (n: number | null) => (n === null ? "-" : formatBytes(n)));
hb.registerHelper("budgetCount", (n: number | null) => (n === null ? "-" : formatCount(n)));
hb.registerHelper("energy", (j: number) => formatEnergy(j));
hb.registerHelper("seconds", (s: number) => formatSeconds(s));
hb.registerHelper("join", (a: unknown[]) => a.join(", "));
hb.registerHelper("shape", (a: number[]) => a.join("×"));
hb.registerHelper("eq", (a: unknown, b: unknown) => a === b);
const render = hb.compile(TEMPLATE, { noEscape: true, strict: true });

/** Pure: report.md for a compiled spec. */
export function emitReport(s: CostSummary): string {
  return render(s);
}
