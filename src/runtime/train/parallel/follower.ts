/**
 * A worker thread of data-parallel training (replica 1…N−1): builds the blocks on its own tfjs
 * backend, takes each stage's weights from rank 0, and computes the gradients of its shard of every
 * step, meeting the other replicas in shared memory (see pool.ts).
 */
import { parentPort, workerData } from "node:worker_threads";
import { selectBackend, type BackendRequest } from "../backend.js";
import { buildBlockModel, type BlockModel } from "../builder.js";
import { registerWasmGradientKernels } from "../kernels/index.js";
import { setDropoutStep } from "../layers.js";
import { stageGraph, type StageGraph } from "../stage.js";
import { replicaStep } from "../step.js";
import { tf } from "../tf.js";
import { Collective } from "./collective.js";
import type { ReplicaInit, ReplicaMessage, ReplicaReply } from "./pool.js";
import { setShard } from "./shard.js";

const port = parentPort!;
const init = workerData as ReplicaInit;
const reply = (m: ReplicaReply) => port.postMessage(m);
const collective = new Collective(init.rank, init.memory);

function failureText(e: unknown): string {
  return `replica ${init.rank}: ${e instanceof Error ? e.message : String(e)}`;
}

try {
  await selectBackend(init.backend as BackendRequest, (name) => void (name === "wasm" && registerWasmGradientKernels()));
  const { ir, seed } = init;
  const models = new Map<string, BlockModel>(ir.blocks.map((b) => [b.name, buildBlockModel(ir, b, seed)]));
  let graph: StageGraph | undefined;

  port.on("message", (m: ReplicaMessage) => {
    try {
      if (m.type === "stage") {
        tf.tidy(() => {
          [...models.values()].forEach((bm, i) => bm.model.weights.forEach((w, j) => w.write(tf.tensor(m.weights[i]![j]!, w.shape as number[], "float32"))));
        });
        graph = stageGraph(ir, models, m.index, m.hard);
        return;
      }
      setDropoutStep(m.dropoutStep);
      setShard({ collective, globalCount: m.globalCount, offset: m.offset, count: m.count });
      try {
        replicaStep(ir, models, graph!, collective, undefined, 0, { images: m.images, labels: m.labels, count: m.count, denominators: m.denominators, decay: false });
      } finally {
        setShard(undefined);
      }
    } catch (e) {
      collective.abort(failureText(e));
      reply({ type: "error", message: failureText(e) });
    }
  });
  reply({ type: "ready" });
} catch (e) {
  reply({ type: "error", message: failureText(e) });
}
