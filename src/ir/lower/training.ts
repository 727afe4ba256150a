import { Codes, didYouMean } from "../../diagnostics/index.js";
import type { Expr, Property, TrainDecl } from "../../parser/index.js";
import type { IrBlock, IrExit, OptimizerSpec, ScheduleSpec, TrainingPlan, TrainStage } from "../graph.js";
import type { SectionReader } from "./context.js";
import { DEFAULT_HIDDEN } from "../../format/defer.js";

const DATA = ["all", "hard", "easy"] as const;
const MODES = ["stagewise", "joint"] as const;
const AUGMENT = ["none", "crop_flip"] as const;

interface Defaults {
  epochs: number;
  batch: number;
  seed: number;
  augment: TrainStage["augment"];
  optimizer: OptimizerSpec;
  schedule: ScheduleSpec;
}

const BASE: Defaults = { epochs: 5, batch: 64, seed: 0, augment: "none", optimizer: { kind: "adam", lr: 1e-3, weightDecay: 0 }, schedule: { kind: "constant" } };

/** Lowers `train { … stage … }`; without one, the MEANet recipe (dsl/reference.md §12, "The derived recipe") is derived from the blocks. */
export function lowerTraining(decls: TrainDecl[], blocks: IrBlock[], exits: IrExit[], hardExit: string | undefined, r: SectionReader): TrainingPlan {
  for (let i = 1; i < decls.length; i++) r.bag.error(Codes.DuplicateDeclaration, "`train` is declared twice", decls[i]!.span);
  const decl = decls[0];
  const plan: TrainingPlan = { mode: "stagewise", seed: 0, validationSplit: 0.1, stages: [] };
  const defaults: Defaults = { ...BASE };
  const blockNames = blocks.map((b) => b.name);
  const exitNames = exits.map((e) => e.name);
  if (decl) {
    r.properties(
      decl.properties,
      {
        mode: (v) => (plan.mode = r.word(v, MODES, "`mode`") ?? plan.mode),
        seed: (v) => (plan.seed = defaults.seed = r.integer(v, "`seed`", 0) ?? 0),
        validation: (v) => {
          const f = r.fraction(v, "`validation`");
          if (f !== undefined && (f <= 0 || f >= 1)) r.bag.error(Codes.BadValue, "`validation` must be strictly between 0 and 1", v.span);
          else if (f !== undefined) plan.validationSplit = f;
        },
        epochs: (v) => (defaults.epochs = r.integer(v, "`epochs`") ?? defaults.epochs),
        batch: (v) => (defaults.batch = r.integer(v, "`batch`") ?? defaults.batch),
        augment: (v) => (defaults.augment = r.word(v, AUGMENT, "`augment`") ?? defaults.augment),
        optimizer: (v) => (defaults.optimizer = optimizer(v, r) ?? defaults.optimizer),
        schedule: (v) => (defaults.schedule = schedule(v, r) ?? defaults.schedule),
      },
      "`train`",
    );
    const seen = new Set<string>();
    for (const s of decl.stages) {
      if (!s.name.name) continue;
      if (seen.has(s.name.name)) r.bag.error(Codes.DuplicateName, `stage \`${s.name.name}\` is declared twice`, s.name.span);
      seen.add(s.name.name);
      plan.stages.push(stage(s.name.name, s.properties, s.name.span, defaults, blockNames, exitNames, plan.mode, r));
    }
  }
  if (plan.stages.length === 0) plan.stages = derivedStages(blocks, exits, hardExit, defaults, plan.mode);
  return plan;
}

function stage(name: string, props: Property[], span: Expr["span"], d: Defaults, blocks: string[], exits: string[], mode: TrainingPlan["mode"], r: SectionReader): TrainStage {
  const s: TrainStage = { name, train: [], freeze: [], data: "all", epochs: d.epochs, batch: d.batch, optimizer: d.optimizer, schedule: d.schedule, seed: d.seed, lossWeights: undefined, augment: d.augment };
  const blockList = (v: Expr, what: string): string[] => {
    const names = r.names(v, what) ?? [];
    return names
      .filter((n) => {
        if (blocks.includes(n.name)) return true;
        r.bag.error(Codes.UnknownName, `there is no block \`${n.name}\``, n.span, { hint: didYouMean(n.name, blocks) ?? `blocks: ${blocks.join(", ")}` });
        return false;
      })
      .map((n) => n.name);
  };
  r.properties(
    props,
    {
      train: (v) => (s.train = blockList(v, "`train`")),
      freeze: (v) => (s.freeze = blockList(v, "`freeze`")),
      data: (v) => (s.data = r.word(v, DATA, "`data`") ?? s.data),
      epochs: (v) => (s.epochs = r.integer(v, "`epochs`") ?? s.epochs),
      batch: (v) => (s.batch = r.integer(v, "`batch`") ?? s.batch),
      seed: (v) => (s.seed = r.integer(v, "`seed`", 0) ?? s.seed),
      augment: (v) => (s.augment = r.word(v, AUGMENT, "`augment`") ?? s.augment),
      optimizer: (v) => (s.optimizer = optimizer(v, r) ?? s.optimizer),
      schedule: (v) => (s.schedule = schedule(v, r) ?? s.schedule),
      defer: (v) => (s.defer = deferModel(v, r)),
      loss: (v) => {
        const c = r.call(v, "loss", ["weighted"]);
        if (!c) return;
        const weights: Record<string, number> = {};
        for (const [k, w] of c.args) {
          if (!exits.includes(k)) {
            r.bag.error(Codes.UnknownName, `there is no exit \`${k}\` to weight`, w.span, { hint: didYouMean(k, exits) ?? `exits: ${exits.join(", ")}` });
            continue;
          }
          const x = r.quantity(w, "none", `the weight of \`${k}\``);
          if (x !== undefined && x < 0) r.bag.error(Codes.BadValue, `the loss weight of \`${k}\` must be zero or more, got ${x}`, w.span);
          else if (x !== undefined) weights[k] = x;
        }
        s.lossWeights = weights;
      },
    },
    `stage \`${name}\``,
  );
  if (props.some((p) => p.key.name === "defer")) return deferStage(s, props, r);
  const written = props.find((p) => p.key.name === "train");
  const listed = written && (written.value.kind !== "list" || written.value.elements.length > 0);
  if (!listed) r.bag.error(Codes.BadStage, `stage \`${name}\` trains no block`, span, { hint: "add e.g. `train: [main]`, or `defer: mlp(hidden: 16)` for the deferral stage" });
  for (const b of s.freeze) if (s.train.includes(b)) r.bag.error(Codes.BadStage, `stage \`${name}\` both trains and freezes \`${b}\``, span);
  if (mode === "joint" && !s.lossWeights) r.bag.error(Codes.BadStage, `joint training needs \`loss: weighted(exit: w, …)\` in stage \`${name}\``, span);
  return s;
}

/** Epochs (full passes, one step each) and learning rate of a deferral stage that does not set them. */
export const DEFER_DEFAULTS = { epochs: 300, lr: 0.01, hidden: DEFAULT_HIDDEN } as const;

/** `defer: mlp(hidden: 16)` or `defer: logistic`: the model of a deferral stage. */
function deferModel(v: Expr, r: SectionReader): { hidden: number } | undefined {
  const c = r.call(v, "deferral model", ["mlp", "logistic"]);
  if (!c) return undefined;
  for (const p of c.positional) r.bag.error(Codes.UnknownArgument, `name the arguments of \`${c.name}\`, e.g. \`mlp(hidden: 16)\``, p.span);
  if (c.name === "logistic") {
    r.checkArgs(c, [], "logistic");
    return { hidden: 0 };
  }
  r.checkArgs(c, ["hidden"], "mlp");
  const h = c.args.get("hidden");
  return { hidden: h ? (r.integer(h, "`hidden`") ?? DEFER_DEFAULTS.hidden) : DEFER_DEFAULTS.hidden };
}

/**
 * A deferral stage trains no block: it fits the deferral model on held-out images once the blocks it
 * reads are trained. Block-stage settings are errors; epochs and the optimizer are its own unless
 * the stage sets them (the section's defaults are for blocks).
 */
function deferStage(s: TrainStage, props: Property[], r: SectionReader): TrainStage {
  for (const p of props) {
    if (["train", "freeze", "data", "loss", "augment", "batch"].includes(p.key.name)) {
      r.bag.error(Codes.BadStage, `a deferral stage trains no block, so \`${p.key.name}\` has no meaning in stage \`${s.name}\``, p.key.span, { hint: "deferral stages take `defer`, `epochs`, `optimizer`, `seed`" });
    }
  }
  const own = (key: string) => props.some((p) => p.key.name === key);
  return {
    ...s,
    train: [],
    freeze: [],
    epochs: own("epochs") ? s.epochs : DEFER_DEFAULTS.epochs,
    optimizer: own("optimizer") ? s.optimizer : { kind: "adam", lr: DEFER_DEFAULTS.lr, weightDecay: 0 },
    schedule: own("schedule") ? s.schedule : { kind: "constant" },
    lossWeights: undefined,
    defer: s.defer ?? { hidden: DEFER_DEFAULTS.hidden },
  };
}

function optimizer(v: Expr, r: SectionReader): OptimizerSpec | undefined {
  const c = r.call(v, "optimizer", ["sgd", "adam"]);
  if (!c) return undefined;
  const num = (key: string, fallback: number, ok: (v: number) => boolean, want: string): number => {
    const e = c.args.get(key);
    if (!e) return fallback;
    const v = r.quantity(e, "none", `\`${key}\``);
    if (v === undefined) return fallback;
    if (!ok(v)) {
      r.bag.error(Codes.BadValue, `\`${key}\` of \`${c.name}\` must be ${want}, got ${v}`, e.span);
      return fallback;
    }
    return v;
  };
  const positive = (v: number) => v > 0;
  const nonNegative = (v: number) => v >= 0;
  for (const p of c.positional) r.bag.error(Codes.UnknownArgument, `name the arguments of \`${c.name}\`, e.g. \`${c.name}(lr: 0.01)\``, p.span);
  if (c.name === "sgd") {
    r.checkArgs(c, ["lr", "momentum", "weight_decay", "nesterov"], "sgd");
    const nesterov = c.args.get("nesterov");
    if (nesterov && nesterov.kind !== "bool") r.bag.error(Codes.BadValue, "`nesterov` must be `true` or `false`", nesterov.span);
    return {
      kind: "sgd",
      lr: num("lr", 0.1, positive, "positive"),
      momentum: num("momentum", 0.9, (v) => v >= 0 && v < 1, "in [0, 1)"),
      weightDecay: num("weight_decay", 0, nonNegative, "zero or more"),
      nesterov: nesterov?.kind === "bool" ? nesterov.value : false,
    };
  }
  r.checkArgs(c, ["lr", "weight_decay"], "adam");
  return { kind: "adam", lr: num("lr", 1e-3, positive, "positive"), weightDecay: num("weight_decay", 0, nonNegative, "zero or more") };
}

function schedule(v: Expr, r: SectionReader): ScheduleSpec | undefined {
  const c = r.call(v, "schedule", ["constant", "cosine", "step"]);
  if (!c) return undefined;
  if (c.name === "step") {
    r.checkArgs(c, ["every", "gamma"], "step");
    const every = c.args.get("every");
    const gamma = c.args.get("gamma");
    return { kind: "step", every: every ? (r.integer(every, "`every`") ?? 1) : 1, gamma: gamma ? (r.quantity(gamma, "none", "`gamma`") ?? 0.1) : 0.1 };
  }
  r.checkArgs(c, [], c.name);
  return { kind: c.name as "constant" | "cosine" };
}

/** The MEANet recipe: the ranking exit's block on all data; the other edge blocks on hard data; the cloud on all. */
function derivedStages(blocks: IrBlock[], exits: IrExit[], hardExit: string | undefined, d: Defaults, mode: TrainingPlan["mode"]): TrainStage[] {
  const base = { epochs: d.epochs, batch: d.batch, optimizer: d.optimizer, schedule: d.schedule, seed: d.seed, augment: d.augment };
  if (mode === "joint") {
    return [{ name: "joint", train: blocks.map((b) => b.name), freeze: [], data: "all", lossWeights: Object.fromEntries(exits.map((e) => [e.name, 1])), ...base }];
  }
  const mainBlock = exits.find((e) => e.name === hardExit)?.block ?? blocks[0]?.name;
  const edge = blocks.filter((b) => b.placement === "edge" && b.name !== mainBlock).map((b) => b.name);
  const cloud = blocks.filter((b) => b.placement !== "edge" && b.name !== mainBlock).map((b) => b.name);
  const stages: TrainStage[] = [];
  if (mainBlock) stages.push({ name: mainBlock, train: [mainBlock], freeze: [], data: "all", lossWeights: undefined, ...base });
  if (edge.length) stages.push({ name: "hard", train: edge, freeze: mainBlock ? [mainBlock] : [], data: "hard", lossWeights: undefined, ...base });
  if (cloud.length) stages.push({ name: "cloud", train: cloud, freeze: [], data: "all", lossWeights: undefined, ...base });
  return stages;
}
