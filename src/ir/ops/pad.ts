import { NO_COST, requireRank, type OpDef } from "./op.js";

/** Zero padding of a feature map: rows above and below, columns left and right, channels after the last. */
export const pad: OpDef = {
  name: "pad",
  tensorInputs: 1,
  params: [
    { name: "top", kind: "int", default: 0, min: 0 },
    { name: "bottom", kind: "int", default: 0, min: 0 },
    { name: "left", kind: "int", default: 0, min: 0 },
    { name: "right", kind: "int", default: 0, min: 0 },
    { name: "channels", kind: "int", default: 0, min: 0 },
  ],
  doc: "Zero padding: `pad(x, top: 1, bottom: 1, left: 1, right: 1, channels: 16)` adds zero rows, columns and channels (the channels after the last); no parameters, no MACs.",
  inferShape([x], a) {
    const rank = requireRank(x!, 3, "pad");
    if (rank) return rank;
    const [h, w, c] = x!.shape as [number, number, number];
    return [h + (a.top as number) + (a.bottom as number), w + (a.left as number) + (a.right as number), c + (a.channels as number)];
  },
  cost: () => NO_COST,
};
