/** The one tfjs entry point of the runtime, so every module shares one engine and one set of kernels. */
import * as tf from "@tensorflow/tfjs";

export { tf };
export type Tensor = tf.Tensor;
export type LayersModel = tf.LayersModel;
export type SymbolicTensor = tf.SymbolicTensor;

// Silences tfjs' advice banners (e.g. "install the node backend"): the backend choice is ours and is reported.
tf.env().set("PROD", true);
