import type { Precision } from "./ir.js";

/**
 * Named device and link presets. Every constant carries its source; where no published figure
 * applies, the source says so plainly ("assumed") so users know to override it.
 */
export interface Sourced<T> {
  value: T;
  source: string;
}

export interface DevicePreset {
  description: string;
  precision: Sourced<Precision>;
  energyPerMacJ: Sourced<number>;
  throughputMacsPerS: Sourced<number>;
}

export interface LinkPreset {
  description: string;
  uplinkBps: Sourced<number>;
  energyPerBitJ: Sourced<number>;
  rttS: Sourced<number>;
}

const HOROWITZ = "Horowitz, \"Computing's energy problem\", ISSCC 2014, 45 nm";
const HUANG = "Huang et al., \"A Close Examination of Performance and Power Characteristics of 4G LTE Networks\", MobiSys 2012, uplink power slope";
const NEUROSURGEON = "Kang et al., \"Neurosurgeon\", ASPLOS 2017, measured average uplink";

/** MAC energy = multiply + add at each precision, 45 nm (Horowitz 2014): used when a spec sets `precision` alone. */
export const MAC_ENERGY_J: Record<Precision, number> = { int8: 0.23e-12, fp16: 1.5e-12, fp32: 4.6e-12 };

/** MAC energy = multiply + add at the given precision (Horowitz 2014, Figure 1.1.9). */
export const DEVICE_PRESETS: Record<string, DevicePreset> = {
  edge_int8_45nm: {
    description: "Edge accelerator, 8-bit integer MACs",
    precision: { value: "int8", source: "preset choice" },
    energyPerMacJ: { value: 0.23e-12, source: `${HOROWITZ}: 8-bit add 0.03 pJ + 8-bit multiply 0.2 pJ` },
    throughputMacsPerS: { value: 50e9, source: "assumed effective throughput of a small NPU (override with `throughput:`)" },
  },
  edge_fp16_45nm: {
    description: "Edge GPU, 16-bit float MACs",
    precision: { value: "fp16", source: "preset choice" },
    energyPerMacJ: { value: 1.5e-12, source: `${HOROWITZ}: 16-bit float add 0.4 pJ + multiply 1.1 pJ` },
    throughputMacsPerS: { value: 100e9, source: "assumed effective throughput of a mobile GPU (override with `throughput:`)" },
  },
  edge_fp32_45nm: {
    description: "Edge CPU, 32-bit float MACs",
    precision: { value: "fp32", source: "preset choice" },
    energyPerMacJ: { value: 4.6e-12, source: `${HOROWITZ}: 32-bit float add 0.9 pJ + multiply 3.7 pJ` },
    throughputMacsPerS: { value: 10e9, source: "assumed effective throughput of a mobile CPU (override with `throughput:`)" },
  },
  cloud_fp32_45nm: {
    description: "Cloud server GPU, 32-bit float MACs",
    precision: { value: "fp32", source: "preset choice" },
    energyPerMacJ: { value: 4.6e-12, source: `${HOROWITZ}: 32-bit float add 0.9 pJ + multiply 3.7 pJ` },
    throughputMacsPerS: { value: 5e12, source: "assumed effective throughput of a data-centre GPU (override with `throughput:`)" },
  },
};

export const LINK_PRESETS: Record<string, LinkPreset> = {
  wifi: {
    description: "Wi-Fi uplink",
    uplinkBps: { value: 18.88e6, source: NEUROSURGEON },
    energyPerBitJ: { value: 283.17e-9, source: `${HUANG}: Wi-Fi 283.17 mW/Mbps` },
    rttS: { value: 0.01, source: "assumed (override with `rtt:`)" },
  },
  lte: {
    description: "LTE uplink",
    uplinkBps: { value: 5.1e6, source: NEUROSURGEON },
    energyPerBitJ: { value: 438.39e-9, source: `${HUANG}: LTE 438.39 mW/Mbps` },
    rttS: { value: 0.05, source: "assumed (override with `rtt:`)" },
  },
  cell_3g: {
    description: "3G uplink",
    uplinkBps: { value: 1.1e6, source: NEUROSURGEON },
    energyPerBitJ: { value: 868.98e-9, source: `${HUANG}: 3G 868.98 mW/Mbps` },
    rttS: { value: 0.1, source: "assumed (override with `rtt:`)" },
  },
};

export const DEFAULT_EDGE_PRESET = "edge_int8_45nm";
export const DEFAULT_CLOUD_PRESET = "cloud_fp32_45nm";
export const DEFAULT_LINK_PRESET = "wifi";
