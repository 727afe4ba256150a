import { tf } from "./tf.js";
import { Codes, MeanetError } from "../../diagnostics/index.js";

export type BackendChoice = "tensorflow" | "wasm" | "cpu";
export const BACKEND_CHOICES = ["auto", "node-gpu", "node", "wasm", "cpu"] as const;
export type BackendRequest = (typeof BACKEND_CHOICES)[number];

/** Optional accelerators, tried in this order; each registers the `tensorflow` backend when present. */
const NODE_PACKAGES: Record<"node-gpu" | "node", string> = { "node-gpu": "@tensorflow/tfjs-node-gpu", node: "@tensorflow/tfjs-node" };

async function tryImport(name: string): Promise<boolean> {
  try {
    await import(/* @vite-ignore */ name);
    return true;
  } catch {
    return false;
  }
}

let wasmLoaded = false;
async function loadWasm(): Promise<void> {
  if (wasmLoaded) return;
  await import("@tensorflow/tfjs-backend-wasm");
  wasmLoaded = true;
}

/** The hooks the trainer needs after a backend is ready (e.g. gradient kernels wasm lacks). */
export type BackendReadyHook = (backend: string) => void | Promise<void>;

/**
 * Picks the backend: `auto` tries tfjs-node-gpu, then tfjs-node (both optional, loaded only when
 * installed), then wasm, then cpu. An explicit request that cannot be met is an error.
 */
export async function selectBackend(request: BackendRequest = "auto", onReady?: BackendReadyHook): Promise<string> {
  const order: BackendRequest[] = request === "auto" ? ["node-gpu", "node", "wasm", "cpu"] : [request];
  const failures: string[] = [];
  for (const choice of order) {
    let name: string;
    if (choice === "node-gpu" || choice === "node") {
      if (!(await tryImport(NODE_PACKAGES[choice]))) {
        failures.push(`${NODE_PACKAGES[choice]} is not installed`);
        continue;
      }
      name = "tensorflow";
    } else if (choice === "wasm") {
      await loadWasm();
      name = "wasm";
    } else name = "cpu";
    if (await tf.setBackend(name)) {
      await tf.ready();
      await onReady?.(name);
      return name;
    }
    failures.push(`backend ${name} failed to initialise`);
  }
  throw new MeanetError(Codes.BackendUnavailable, `no usable tfjs backend for \`${request}\`: ${failures.join("; ")}`);
}
