/**
 * Where onnxruntime runs the batches. onnxruntime-node's `run` is synchronous underneath (the
 * promise only defers it to setImmediate), so on the main thread a batch holds up the event loop:
 * no request is read, parsed or answered while it runs. The worker engine moves the session to a
 * worker thread, so HTTP work and inference overlap; the main-thread engine is kept for
 * comparison and for hosts that forbid threads.
 *
 * The worker's code is a string evaluated by the Worker (plain JavaScript that needs only
 * onnxruntime-node, resolved here), so it runs alike from dist/, under tsx and under vitest.
 */
import { createRequire } from "node:module";
import { Worker } from "node:worker_threads";
import { Codes, MeanetError } from "../../diagnostics/index.js";
import { ort, type InferenceSession } from "../infer/onnx.js";
import type { BatchRunner } from "./batcher.js";
import type { ElementArray } from "./datatypes.js";
import { checkSession, type ServedModel } from "./model.js";

export interface Engine {
  run: BatchRunner;
  /** Why the engine can run nothing more (its worker died), or undefined while it works. */
  failure(): Error | undefined;
  release(): Promise<void>;
}

export type EngineThread = "worker" | "main";

export interface EngineOptions {
  thread: EngineThread;
  /** onnxruntime threads inside one operator; its default is one per core. */
  intraOpThreads?: number;
}

/**
 * onnxruntime's threads otherwise spin between operators and between batches, burning the CPU
 * the server needs to read and answer requests; without spinning, bench:serve serves about a
 * quarter more requests per second on two cores.
 */
const NO_SPINNING = { session: { intra_op: { allow_spinning: "0" } } };

function sessionOptions(intraOpThreads: number | undefined): InferenceSession.SessionOptions {
  return { graphOptimizationLevel: "all", ...(intraOpThreads ? { intraOpNumThreads: intraOpThreads } : {}), extra: NO_SPINNING };
}

async function mainThreadEngine(model: ServedModel, intraOpThreads: number | undefined): Promise<Engine> {
  let session: InferenceSession;
  try {
    session = await ort.InferenceSession.create(model.path, sessionOptions(intraOpThreads));
  } catch (e) {
    throw new MeanetError(Codes.BuildInvalid, `cannot load ONNX model ${model.path}: ${(e as Error).message.split("\n")[0]}`);
  }
  try {
    checkSession(session, model);
  } catch (e) {
    await session.release();
    throw e;
  }
  return {
    run: async (inputs, batch) => {
      const feeds: Record<string, ort.Tensor> = {};
      for (const [i, s] of model.inputs.entries()) feeds[s.name] = new ort.Tensor(s.datatype.dtype, inputs[i]!, [batch, ...s.shape]);
      const out = await session.run(feeds);
      return model.outputs.map((s) => {
        const t = out[s.name];
        if (!t || t.type !== s.datatype.dtype) throw new Error(`onnxruntime returned ${t ? t.type : "no"} output \`${s.name}\`, expected ${s.datatype.dtype}`);
        return t.data as ElementArray;
      });
    },
    failure: () => undefined,
    release: () => session.release(),
  };
}

/** The worker: loads the session, reports its metadata, then runs one batch per message, in order. */
const WORKER_SOURCE = `
const { parentPort, workerData } = require("node:worker_threads");
const ort = require(workerData.ort);
const { path, inputs, outputs } = workerData;
(async () => {
  let session;
  try {
    session = await ort.InferenceSession.create(path, workerData.options);
  } catch (e) {
    parentPort.postMessage({ type: "failed", message: String((e && e.message) || e).split("\\n")[0] });
    return;
  }
  parentPort.postMessage({ type: "ready", inputMetadata: session.inputMetadata, outputMetadata: session.outputMetadata });
  parentPort.on("message", async (m) => {
    if (m.type === "release") {
      await session.release();
      parentPort.close();
      return;
    }
    try {
      const feeds = {};
      inputs.forEach((s, i) => (feeds[s.name] = new ort.Tensor(s.dtype, m.inputs[i], [m.batch, ...s.shape])));
      const out = await session.run(feeds);
      const data = outputs.map((s) => {
        const t = out[s.name];
        if (!t || t.type !== s.dtype) throw new Error("onnxruntime returned " + (t ? t.type : "no") + " output \`" + s.name + "\`, expected " + s.dtype);
        return t.data;
      });
      parentPort.postMessage({ type: "result", id: m.id, outputs: data }, data.map((d) => d.buffer));
    } catch (e) {
      parentPort.postMessage({ type: "result", id: m.id, error: String((e && e.message) || e) });
    }
  });
})();
`;

type FromWorker =
  | { type: "failed"; message: string }
  | { type: "ready"; inputMetadata: InferenceSession.ValueMetadata[]; outputMetadata: InferenceSession.ValueMetadata[] }
  | { type: "result"; id: number; outputs?: ElementArray[]; error?: string };

/** An array the worker may take over: one that owns its whole buffer (not a view into a request body or Buffer pool). */
function transferable(a: ElementArray): ElementArray {
  return a.byteOffset === 0 && a.byteLength === a.buffer.byteLength && a.buffer instanceof ArrayBuffer ? a : a.slice();
}

async function workerEngine(model: ServedModel, intraOpThreads: number | undefined): Promise<Engine> {
  const plain = (specs: ServedModel["inputs"]) => specs.map((s) => ({ name: s.name, dtype: s.datatype.dtype, shape: s.shape }));
  const worker = new Worker(WORKER_SOURCE, {
    eval: true,
    workerData: { ort: createRequire(import.meta.url).resolve("onnxruntime-node"), path: model.path, inputs: plain(model.inputs), outputs: plain(model.outputs), options: sessionOptions(intraOpThreads) },
  });
  const pending = new Map<number, { resolve(o: ElementArray[]): void; reject(e: Error): void }>();
  let broken: Error | undefined;
  const exited = new Promise<void>((resolve) => worker.once("exit", () => resolve()));
  const fail = (e: Error) => {
    broken ??= e;
    for (const p of pending.values()) p.reject(broken);
    pending.clear();
  };
  worker.on("error", (e) => fail(new Error(`the inference worker failed: ${e.message}`)));
  void exited.then(() => fail(new Error("the inference worker has stopped")));

  const first = await new Promise<FromWorker>((resolve) => {
    worker.once("message", resolve);
    void exited.then(() => resolve({ type: "failed", message: broken?.message ?? "the inference worker stopped while loading" }));
  });
  if (first.type !== "ready") {
    await worker.terminate();
    throw new MeanetError(Codes.BuildInvalid, `cannot load ONNX model ${model.path}: ${first.type === "failed" ? first.message : "unexpected message"}`);
  }
  try {
    checkSession(first, model);
  } catch (e) {
    await worker.terminate();
    throw e;
  }
  worker.on("message", (m: FromWorker) => {
    if (m.type !== "result") return;
    const p = pending.get(m.id);
    pending.delete(m.id);
    if (m.outputs) p?.resolve(m.outputs);
    else p?.reject(new Error(m.error ?? "inference failed"));
  });

  let nextId = 0;
  return {
    run: (inputs, batch) => {
      if (broken) return Promise.reject(broken);
      const id = nextId++;
      const sent = inputs.map(transferable);
      return new Promise((resolve, reject) => {
        pending.set(id, { resolve, reject });
        worker.postMessage({ id, batch, inputs: sent }, sent.map((a) => a.buffer as ArrayBuffer));
      });
    },
    failure: () => broken,
    release: async () => {
      if (!broken) worker.postMessage({ type: "release" });
      await exited;
    },
  };
}

/** Opens the model's session on the chosen thread and checks it against the manifest. */
export function openEngine(model: ServedModel, options: EngineOptions): Promise<Engine> {
  return options.thread === "worker" ? workerEngine(model, options.intraOpThreads) : mainThreadEngine(model, options.intraOpThreads);
}
