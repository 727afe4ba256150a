/**
 * Classifying image files through the routed path (`meanet predict`): each PNG or JPEG converted
 * to the spec's input by the rule image folders use (train/data/images.ts), then classified as
 * `meanet run` classifies the test images, by the same classifier and cloud client.
 */
import { readBuild } from "../../format/build.js";
import { checkImageChannels, readImageFile, toInputPixels } from "../train/data/images.js";
import type { Classification } from "./router.js";
import { openRoutedClassifier, type RoutedRunOptions, type RunReport } from "./run.js";

/** One image's answer: the file as given on the command line, and what the router answered (router.ts). */
export type Prediction = { image: string } & Pick<Classification, "label" | "classId" | "exit" | "target" | "confidence" | "degraded" | "edgeMs" | "cloudMs">;

export interface PredictReport {
  model: string;
  cloud: string | null;
  predictions: Prediction[];
  degraded: number;
  cloudRequests: RunReport["cloudRequests"];
}

export type PredictOptions = Omit<RoutedRunOptions, "data" | "limit"> & { images: string[] };

/** The images as the build's input, one after the other (uint8 H×W×C each); a missing or bad file is an error naming it. */
export function imageInputs(shape: readonly number[], files: readonly string[]): Uint8Array {
  checkImageChannels(shape, "the build's input");
  const size = shape.reduce((a, b) => a * b, 1);
  const out = new Uint8Array(files.length * size);
  files.forEach((f, i) => toInputPixels(readImageFile(f), shape, out.subarray(i * size, (i + 1) * size)));
  return out;
}

/** Reads the build, decodes every image (before any model or cloud is started), and classifies them. */
export async function routedPredict(o: PredictOptions): Promise<PredictReport> {
  const { manifest } = readBuild(o.buildDir);
  const inputs = imageInputs(manifest.input.shape, o.images);
  const size = inputs.length / o.images.length;
  const embedded = !o.cloud && o.startCloud ? await o.startCloud(o.buildDir, o.token) : undefined;
  const url = o.cloud ?? embedded?.url;
  try {
    const c = await openRoutedClassifier(o.buildDir, o.rules, { ...o, ...(url ? { cloud: url } : {}) });
    try {
      const predictions: Prediction[] = [];
      for (let i = 0; i < o.images.length; i += o.batch) {
        const n = Math.min(o.batch, o.images.length - i);
        const answers = await c.classify(inputs.subarray(i * size, (i + n) * size), n);
        answers.forEach((a, j) => {
          const { label, classId, exit, target, confidence, degraded, edgeMs, cloudMs } = a;
          predictions.push({ image: o.images[i + j]!, label, classId, exit, target, confidence, degraded, edgeMs, cloudMs });
        });
      }
      const cloudRequests = c.client?.stats ?? { calls: 0, failures: 0, fastFailures: 0, retries: 0, firstFailure: null };
      return { model: manifest.model, cloud: url ?? null, predictions, degraded: predictions.filter((p) => p.degraded).length, cloudRequests: { ...cloudRequests } };
    } finally {
      await c.close();
    }
  } finally {
    await embedded?.close();
  }
}
