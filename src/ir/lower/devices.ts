import { Codes, didYouMean } from "../../diagnostics/index.js";
import type { DeviceDecl } from "../../parser/index.js";
import type { DeviceRole, DeviceSpec, Precision } from "../graph.js";
import { DEFAULT_CLOUD_PRESET, DEFAULT_EDGE_PRESET, DEFAULT_LINK_PRESET, DEVICE_PRESETS, LINK_PRESETS, MAC_ENERGY_J } from "../../format/presets.js";
import type { SectionReader } from "./context.js";

const ROLES: readonly DeviceRole[] = ["edge", "cloud"];
const PRECISIONS: readonly Precision[] = ["int8", "fp16", "fp32"];

function fromPreset(role: DeviceRole, presetName: string, linkName: string): DeviceSpec {
  const p = DEVICE_PRESETS[presetName]!;
  const l = LINK_PRESETS[linkName]!;
  return {
    role,
    preset: presetName,
    precision: p.precision.value,
    weightMemoryBytes: undefined,
    activationMemoryBytes: undefined,
    macsPerInference: undefined,
    energyPerMacJ: p.energyPerMacJ.value,
    throughputMacsPerS: p.throughputMacsPerS.value,
    uplinkBps: l.uplinkBps.value,
    energyPerBitJ: l.energyPerBitJ.value,
    rttS: l.rttS.value,
    spans: {},
    span: undefined,
  };
}

/** Lowers `device edge: preset { … }` and `device cloud { … }`; absent devices take the default presets. */
export function lowerDevices(decls: DeviceDecl[], r: SectionReader): { edge: DeviceSpec; cloud: DeviceSpec } {
  const out = { edge: fromPreset("edge", DEFAULT_EDGE_PRESET, DEFAULT_LINK_PRESET), cloud: fromPreset("cloud", DEFAULT_CLOUD_PRESET, DEFAULT_LINK_PRESET) };
  const seen = new Map<string, DeviceDecl>();
  for (const d of decls) {
    const role = d.name.name as DeviceRole;
    if (!ROLES.includes(role)) {
      r.bag.error(Codes.UnknownDevice, `a device is \`edge\` or \`cloud\`, not \`${d.name.name}\``, d.name.span, { hint: didYouMean(d.name.name, ROLES) });
      continue;
    }
    const prior = seen.get(role);
    if (prior) {
      r.bag.error(Codes.DuplicateDeclaration, `device \`${role}\` is declared twice`, d.name.span, { related: [{ message: "first declared here", span: prior.name.span }] });
      continue;
    }
    seen.set(role, d);
    let presetName = role === "edge" ? DEFAULT_EDGE_PRESET : DEFAULT_CLOUD_PRESET;
    if (d.preset) {
      if (!DEVICE_PRESETS[d.preset.name]) {
        r.bag.error(Codes.UnknownPreset, `unknown device preset \`${d.preset.name}\``, d.preset.span, {
          hint: didYouMean(d.preset.name, Object.keys(DEVICE_PRESETS)) ?? `presets: ${Object.keys(DEVICE_PRESETS).join(", ")}`,
        });
      } else presetName = d.preset.name;
    }
    const linkProp = d.properties.find((p) => p.key.name === "link");
    let linkName = DEFAULT_LINK_PRESET;
    if (linkProp) {
      const w = r.word(linkProp.value, Object.keys(LINK_PRESETS), "`link`");
      if (w) linkName = w;
    }
    const spec = fromPreset(role, presetName, linkName);
    spec.preset = presetName;
    spec.span = d.name.span;
    const set = <K extends keyof DeviceSpec>(key: K, v: DeviceSpec[K] | undefined, span: DeviceDecl["span"]) => {
      if (v === undefined) return;
      spec[key] = v;
      spec.spans[key] = span;
    };
    r.properties(
      d.properties,
      {
        link: () => {},
        precision: (v, p) => set("precision", r.word(v, PRECISIONS, "`precision`"), p.span),
        weight_memory: (v, p) => set("weightMemoryBytes", r.quantity(v, "bytes", "`weight_memory`"), p.span),
        activation_memory: (v, p) => set("activationMemoryBytes", r.quantity(v, "bytes", "`activation_memory`"), p.span),
        macs: (v, p) => set("macsPerInference", r.quantity(v, "count", "`macs`"), p.span),
        energy_per_mac: (v, p) => set("energyPerMacJ", r.quantity(v, "energy", "`energy_per_mac`"), p.span),
        throughput: (v, p) => set("throughputMacsPerS", r.quantity(v, "count", "`throughput` (MACs per second)"), p.span),
        uplink: (v, p) => set("uplinkBps", r.quantity(v, "bandwidth", "`uplink`"), p.span),
        energy_per_bit: (v, p) => set("energyPerBitJ", r.quantity(v, "energy", "`energy_per_bit`"), p.span),
        rtt: (v, p) => set("rttS", r.quantity(v, "time", "`rtt`"), p.span),
      },
      `device \`${role}\``,
    );
    // A precision override without an energy figure takes the MAC energy of that precision.
    if (spec.spans.precision && !spec.spans.energyPerMacJ) spec.energyPerMacJ = MAC_ENERGY_J[spec.precision];
    const names: Partial<Record<keyof DeviceSpec, string>> = {
      throughputMacsPerS: "throughput",
      uplinkBps: "uplink",
      energyPerMacJ: "energy_per_mac",
      energyPerBitJ: "energy_per_bit",
      rttS: "rtt",
      weightMemoryBytes: "weight_memory",
      activationMemoryBytes: "activation_memory",
      macsPerInference: "macs",
    };
    for (const [key, name] of Object.entries(names) as [keyof DeviceSpec, string][]) {
      const v = spec[key];
      if (typeof v !== "number") continue;
      const strict = key === "throughputMacsPerS" || key === "uplinkBps";
      if (strict ? v <= 0 : v < 0) {
        r.bag.error(Codes.BadValue, `\`${name}\` must be ${strict ? "positive" : "zero or more"}, got ${v}`, spec.spans[key] ?? d.name.span);
        (spec as unknown as Record<string, number>)[key] = strict ? 1 : 0;
      }
    }
    out[role] = spec;
  }
  return out;
}
