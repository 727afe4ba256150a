import { EXIT_ERRORS, EXIT_OK, EXIT_USAGE, exitCodeOf, MeanetError } from "../diagnostics/index.js";
import { VERSION } from "../toolchain/package.js";
import { processIo, type Io } from "./io.js";

type Command = (argv: string[], io: Io) => number | Promise<number>;

/**
 * Each command's module loads when the command runs, so that `meanet check` does not load
 * onnxruntime, tfjs or the chart renderer.
 */
const COMMANDS: Record<string, { load: () => Promise<Command>; summary: string }> = {
  check: { load: async () => (await import("./check.js")).check, summary: "report the spec's problems with file:line:col, codes and hints" },
  inspect: { load: async () => (await import("./inspect.js")).inspect, summary: "params, MACs, memory and cost per block, device and route (per layer with --layers)" },
  compile: { load: async () => (await import("./compile.js")).compile, summary: "write the build directory (ir.json, report.md, manifest.json)" },
  train: { load: async () => (await import("./train.js")).train, summary: "train the spec's stages on real data; weights and train-report.json" },
  export: { load: async () => (await import("./export.js")).exportCommand, summary: "write one ONNX file per partition (edge/*.onnx, cloud/model.onnx) from the weights" },
  verify: { load: async () => (await import("./verify.js")).verify, summary: "run every exported partition in onnxruntime and tfjs; largest difference per output" },
  serve: { load: async () => (await import("./serve.js")).serve, summary: "serve the cloud partition over the KServe v2 REST API, with dynamic batching" },
  run: { load: async () => (await import("./run.js")).run, summary: "classify the test images through the routed edge-cloud path; accuracy, exits, latency, energy" },
  predict: { load: async () => (await import("./predict.js")).predict, summary: "classify PNG or JPEG files through the routed edge-cloud path; label, exit, confidence, times per image" },
  eval: { load: async () => (await import("./eval.js")).evalCommand, summary: "accuracy, exit fractions, energy and latency of the routed system and its baselines; calibration; report.html" },
  fmt: { load: async () => (await import("./fmt.js")).fmt, summary: "lay specs out canonically: to stdout, --write to rewrite them, --check to fail on the ones that would change" },
  lsp: { load: async () => (await import("./lsp.js")).lsp, summary: "language server over stdio for editors: diagnostics as you type, shapes and costs on hover, an outline" },
  build: { load: async () => (await import("./build.js")).build, summary: "compile, train, export, verify and eval in one command, reusing every stage whose inputs are unchanged; assertions as gates" },
};

function help(): string {
  const width = Math.max(...Object.keys(COMMANDS).map((c) => c.length));
  return [
    `meanet ${VERSION}: compiler for complexity-aware edge-cloud neural networks`,
    "",
    "usage: meanet <command> [options]",
    "",
    ...Object.entries(COMMANDS).map(([name, c]) => `  ${name.padEnd(width)}  ${c.summary}`),
    "",
    "Run `meanet <command> --help` for a command's options.",
  ].join("\n");
}

/**
 * Entry point: the only place that maps failures to exit codes. A MeanetError is printed as it
 * renders itself (`error CODE: message` and its notes; a usage error as its message), with the exit
 * code of its code; any other exception is a bug.
 */
export async function main(argv: string[], io: Io = processIo): Promise<number> {
  const [name, ...rest] = argv;
  if (!name || name === "--help" || name === "-h" || name === "help") {
    io.out(help());
    return name ? EXIT_OK : EXIT_USAGE;
  }
  if (name === "--version" || name === "-v") {
    io.out(VERSION);
    return EXIT_OK;
  }
  const command = Object.hasOwn(COMMANDS, name) ? COMMANDS[name] : undefined;
  if (!command) {
    io.err(`unknown command \`${name}\`\n\n${help()}`);
    return EXIT_USAGE;
  }
  try {
    return await (await command.load())(rest, io);
  } catch (e) {
    if (e instanceof MeanetError) {
      io.err(e.render());
      return exitCodeOf(e);
    }
    io.err(`internal error in \`meanet ${name}\`: ${(e as Error).stack ?? String(e)}\nThis is a bug in meanet; please report it with the spec that caused it.`);
    return EXIT_ERRORS;
  }
}
