/**
 * The page of report.html: one handlebars template over a view model of preformatted strings.
 * `{{…}}` escapes; the only unescaped values are the two SVG charts vega rendered (vega escapes
 * the text it draws). No script, no external resource: the page is read offline.
 */
import Handlebars from "handlebars";

export const STYLE = `
:root { color-scheme: light; }
* { box-sizing: border-box; }
body { margin: 0; background: #f6f7f9; color: #1d2329; font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif; }
main { max-width: 1120px; margin: 0 auto; padding: 20px 24px 48px; }
h1 { font-size: 22px; margin: 0 0 4px; }
h2 { font-size: 17px; margin: 28px 0 8px; padding-bottom: 4px; border-bottom: 1px solid #d5d9de; }
h3 { font-size: 14px; margin: 0 0 6px; }
p { margin: 6px 0; }
code, pre { font-family: ui-monospace, "SFMono-Regular", Menlo, Consolas, "DejaVu Sans Mono", monospace; font-size: 13px; }
pre.rule { background: #ffffff; border: 1px solid #d5d9de; border-radius: 4px; padding: 8px 12px; margin: 0; overflow-x: auto; }
dl.facts { display: grid; grid-template-columns: max-content 1fr; gap: 2px 16px; margin: 8px 0 0; }
dl.facts dt { color: #5b6670; }
dl.facts dd { margin: 0; }
table { border-collapse: collapse; background: #ffffff; border: 1px solid #d5d9de; margin: 4px 0; }
th, td { padding: 4px 10px; border-bottom: 1px solid #e6e9ec; text-align: left; vertical-align: top; }
th { background: #eef0f3; font-weight: 600; white-space: nowrap; }
th.group { text-align: center; border-left: 1px solid #d5d9de; font-weight: 500; color: #3a444d; }
.scroll { overflow-x: auto; }
td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
tr.routed td { font-weight: 600; background: #f3f6fa; }
#summary-table th, #summary-table td { padding: 4px 8px; font-size: 13px; }
dl.systems { font-size: 13px; margin-top: 10px; }
tr.failed td { background: #fde8e8; }
tr.failed td.status { color: #a4161a; font-weight: 700; }
tr.passed td.status { color: #2b6a30; font-weight: 600; }
tr.unmeasured td.status { color: #5b6670; font-style: italic; }
.status-line { font-weight: 600; }
.status-line.bad { color: #a4161a; }
.bar { display: inline-block; height: 10px; background: #9aa5b1; vertical-align: middle; }
.bar-cell { width: 220px; }
figure.chart { background: #ffffff; border: 1px solid #d5d9de; border-radius: 4px; margin: 12px 0; padding: 10px 12px; }
figure.chart svg { display: block; max-width: 100%; height: auto; }
figcaption { color: #5b6670; font-size: 13px; margin-top: 4px; }
ol.sources { margin: 6px 0; padding-left: 22px; color: #3a444d; }
.muted { color: #5b6670; }
`;

const TEMPLATE = `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{{model}}: evaluation report</title>
<style>{{{style}}}</style>
</head>
<body>
<main>
<header id="header">
<h1>{{model}}: evaluation report</h1>
<dl class="facts">
<dt>build id</dt><dd><code>{{buildId}}</code></dd>
<dt>data</dt><dd>{{dataSource}}</dd>
<dt>split</dt><dd>{{split}}, {{samples}} samples</dd>
<dt>classes</dt><dd>{{classes}}</dd>
<dt>hard classes</dt><dd>{{hardClasses}}</dd>
<dt>assertions</dt><dd class="status-line{{#if anyFailed}} bad{{/if}}">{{assertionSummary}}</dd>
<dt>evaluation time</dt><dd>{{seconds}}</dd>
</dl>
</header>

<section id="routing">
<h2>Routing rule</h2>
<pre class="rule">route {
{{#each rule}}
  {{this}}
{{/each}}
}</pre>
</section>

<section id="summary">
<h2>Routed system and baselines</h2>
<p class="muted">Per input of the test split. Edge energy: edge MACs × energy per MAC + bits sent × energy per bit. Latency: edge MACs / edge throughput, and for inputs sent to the cloud bits / uplink + round-trip time + cloud MACs / cloud throughput; the cloud's share is its part of that latency and the cloud's own energy (cloud MACs × its energy per MAC).</p>
<div class="scroll"><table id="summary-table">
<thead>
<tr><th rowspan="2">system</th><th class="num" rowspan="2">accuracy</th><th class="group" colspan="{{exitNames.length}}">inputs answered at</th><th class="group" colspan="4">edge, per input</th><th class="group" colspan="3">cloud's share, per input</th></tr>
<tr>{{#each exitNames}}<th class="num">{{this}}</th>{{/each}}<th class="num">MACs</th><th class="num">bytes sent</th><th class="num">energy</th><th class="num">latency</th><th class="num">MACs</th><th class="num">energy</th><th class="num">latency</th></tr>
</thead>
<tbody>
{{#each systems}}<tr class="{{rowClass}}" data-system="{{key}}"><td>{{key}}</td><td class="num">{{accuracy}}</td>{{#each fractions}}<td class="num">{{this}}</td>{{/each}}<td class="num">{{edgeMacs}}</td><td class="num">{{bytesSent}}</td><td class="num">{{energy}}</td><td class="num">{{latency}}</td><td class="num">{{cloudMacs}}</td><td class="num">{{cloudEnergy}}</td><td class="num">{{cloudLatency}}</td></tr>
{{/each}}</tbody>
</table></div>
<p id="oracle-gain"><strong>{{oracleGain}}</strong></p>
<dl class="facts systems">
{{#each systems}}<dt>{{key}}</dt><dd>{{description}}</dd>
{{/each}}</dl>
</section>

<section id="charts">
<h2>Accuracy against cost</h2>
<p class="muted">Lines: threshold sweeps ({{sweepList}}). Points: the routed system at its thresholds and the five baselines.</p>
{{#each charts}}<figure class="chart" id="{{id}}">
<h3>{{title}}</h3>
{{{svg}}}
<figcaption>{{caption}}</figcaption>
</figure>
{{/each}}</section>

{{#if hasCalibration}}<section id="calibration">
<h2>Calibrated thresholds</h2>
<table>
<thead><tr><th>condition</th><th>target</th><th class="num">threshold</th><th class="num">validation samples</th><th class="num">on validation</th><th class="num">on test</th><th>target met</th></tr></thead>
<tbody>
{{#each calibration}}<tr class="{{rowClass}}"><td><code>{{condition}}</code></td><td>{{target}}</td><td class="num">{{threshold}}</td><td class="num">{{samples}}</td><td class="num">{{validation}}</td><td class="num">{{test}}</td><td class="status">{{met}}</td></tr>
{{/each}}</tbody>
</table>
</section>

{{/if}}<section id="assertions">
<h2>Evaluation assertions</h2>
{{#if hasAssertions}}<table>
<thead><tr><th>status</th><th>assertion</th><th>location</th><th class="num">measured</th></tr></thead>
<tbody>
{{#each assertions}}<tr class="{{status}}"><td class="status">{{status}}</td><td><code>{{text}}</code></td><td><code>{{loc}}</code></td><td class="num">{{value}}</td></tr>
{{/each}}</tbody>
</table>
{{else}}<p class="muted">The spec has no evaluation assertions.</p>
{{/if}}</section>

<section id="exits">
<h2>Exits</h2>
<table>
<thead><tr><th>exit</th><th>file</th><th>ships at</th><th class="num">routed: inputs answered</th><th class="num">routed: accuracy there</th><th>standalone: classes</th><th class="num">samples</th><th class="num">standalone accuracy</th></tr></thead>
<tbody>
{{#each exits}}<tr><td>{{name}}</td><td><code>{{file}}</code></td><td>{{precision}}</td><td class="num">{{fraction}}</td><td class="num">{{accuracy}}</td><td>{{classes}}</td><td class="num">{{samples}}</td><td class="num">{{standalone}}</td></tr>
{{/each}}</tbody>
</table>
<p class="muted">Standalone: each exit on every test input of its classes, whatever the router does. Every figure of this report comes from the files as they ship, at the precision named.</p>
</section>

{{#if hasPrecision}}<section id="precision">
<h2>{{precision.title}}</h2>
<p class="muted">{{precision.intro}}</p>
<table id="precision-exits">
<thead><tr><th>exit</th><th>file</th><th>ships at</th><th>float32 reference</th><th class="num">samples</th><th class="num">accuracy, shipped</th><th class="num">accuracy, float32</th><th class="num">top-1 agreement</th></tr></thead>
<tbody>
{{#each precision.exits}}<tr data-exit="{{name}}"><td>{{name}}</td><td><code>{{file}}</code></td><td>{{precision}}</td><td>{{#if reference}}<code>{{reference}}</code>{{else}}the shipped file{{/if}}</td><td class="num">{{samples}}</td><td class="num">{{shipped}}</td><td class="num">{{referenceAccuracy}}</td><td class="num">{{agreement}}</td></tr>
{{/each}}</tbody>
</table>
<table id="precision-routed">
<thead><tr><th rowspan="2">routed system</th><th class="num" rowspan="2">accuracy</th><th class="group" colspan="{{exitNames.length}}">inputs answered at</th></tr>
<tr>{{#each exitNames}}<th class="num">{{this}}</th>{{/each}}</tr>
</thead>
<tbody>
{{#each precision.routed}}<tr class="{{rowClass}}" data-system="{{key}}"><td>{{name}}</td><td class="num">{{accuracy}}</td>{{#each fractions}}<td class="num">{{this}}</td>{{/each}}</tr>
{{/each}}</tbody>
</table>
{{#each precision.notes}}<p>{{this}}</p>
{{/each}}</section>

{{/if}}
<section id="per-class">
<h2>Accuracy per class (routed system)</h2>
<table>
<thead><tr><th>class</th><th>kind</th><th class="num">samples</th><th class="num">accuracy</th><th class="bar-cell"></th></tr></thead>
<tbody>
{{#each perClass}}<tr><td>{{label}}</td><td>{{kind}}</td><td class="num">{{samples}}</td><td class="num">{{accuracy}}</td><td class="bar-cell"><span class="bar" style="width: {{barWidth}}"></span></td></tr>
{{/each}}</tbody>
</table>
</section>

<section id="cost-model">
<h2>Cost model</h2>
<table>
<thead><tr><th>device</th><th>preset</th><th>precision</th><th class="num">energy per MAC</th><th class="num">throughput</th><th class="num">energy per bit sent</th><th class="num">uplink</th><th class="num">round-trip time</th></tr></thead>
<tbody>
{{#each devices}}<tr><td>{{name}}</td><td>{{preset}}</td><td>{{precision}}</td><td class="num">{{energyPerMac}}</td><td class="num">{{throughput}}</td><td class="num">{{energyPerBit}}</td><td class="num">{{uplink}}</td><td class="num">{{rtt}}</td></tr>
{{/each}}</tbody>
</table>
{{#each macPrecision}}<p class="mac-precision">{{this}}</p>
{{/each}}{{#if hasWeights}}<table class="shipped-weights">
<thead><tr><th>file</th><th>ships at</th><th class="num">weights, as compiled</th><th class="num">weights, as shipped</th><th class="num">difference</th></tr></thead>
<tbody>{{#each weights}}<tr><td>{{file}}</td><td>{{precision}}</td><td class="num">{{compiled}}</td><td class="num">{{shipped}}</td><td class="num">{{difference}}</td></tr>
{{/each}}</tbody>
</table>
<p class="muted">As compiled: the parameters at the device's precision, the figure checked against the budgets. As shipped: the bytes of the file's weights (int8 values with their scales, int32 biases, float constants).</p>
{{/if}}{{#if hasSources}}<h3>Sources</h3>
<ol class="sources">
{{#each sources}}<li>{{this}}</li>
{{/each}}</ol>
{{/if}}</section>
</main>
</body>
</html>
`;

export interface PageSystem {
  key: string;
  rowClass: string;
  description: string;
  accuracy: string;
  fractions: string[];
  edgeMacs: string;
  bytesSent: string;
  energy: string;
  latency: string;
  cloudMacs: string;
  cloudEnergy: string;
  cloudLatency: string;
}

/** The shipped files against their float32 references. */
export interface PagePrecision {
  title: string;
  intro: string;
  exits: { name: string; file: string; precision: string; reference: string | null; samples: string; shipped: string; referenceAccuracy: string; agreement: string }[];
  routed: { key: string; rowClass: string; name: string; accuracy: string; fractions: string[] }[];
  notes: string[];
}

export interface PageModel {
  style: string;
  model: string;
  buildId: string;
  dataSource: string;
  split: string;
  samples: string;
  classes: string;
  hardClasses: string;
  assertionSummary: string;
  anyFailed: boolean;
  seconds: string;
  rule: string[];
  exitNames: string[];
  systems: PageSystem[];
  oracleGain: string;
  sweepList: string;
  charts: { id: string; title: string; svg: string; caption: string }[];
  hasCalibration: boolean;
  calibration: { rowClass: string; condition: string; target: string; threshold: string; samples: string; validation: string; test: string; met: string }[];
  hasAssertions: boolean;
  assertions: { status: string; text: string; loc: string; value: string }[];
  exits: { name: string; file: string; precision: string; fraction: string; accuracy: string; classes: string; samples: string; standalone: string }[];
  hasPrecision: boolean;
  precision: PagePrecision | null;
  perClass: { label: string; kind: string; samples: string; accuracy: string; barWidth: string }[];
  devices: { name: string; preset: string; precision: string; energyPerMac: string; throughput: string; energyPerBit: string; uplink: string; rtt: string }[];
  /** One sentence per device: the precision its energy per MAC is of, and the one its files ship at. */
  macPrecision: string[];
  hasWeights: boolean;
  weights: { file: string; precision: string; compiled: string; shipped: string; difference: string }[];
  hasSources: boolean;
  sources: string[];
}

let compiled: HandlebarsTemplateDelegate<PageModel> | null = null;

export function renderPage(model: PageModel): string {
  compiled ??= Handlebars.create().compile<PageModel>(TEMPLATE, { strict: true });
  return compiled(model);
}
