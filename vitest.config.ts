import { configDefaults, defineConfig } from "vitest/config";

/**
 * The suite in two tiers; `npm test` (`vitest run`) runs both, the fast one first.
 *
 * - fast (`npm run test:fast`): unit and golden tests. They import src/ through vitest and need
 *   neither dist/ nor a trained model; the whole tier runs in seconds. Its files share their
 *   worker's modules (isolate: false), which saves loading src/, tfjs and onnxruntime once per
 *   file: a file sets up the global state it relies on (its tfjs backend, say) itself.
 * - e2e (`npm run test:e2e`): the files named `*.e2e.test.ts`. They run the built binary
 *   (bin/meanet.js, so dist/ is built once by test/setup/build.ts), train or use the trained
 *   fixture (test/helpers/trained.ts), start servers, a browser or child processes, and run for
 *   tens of seconds to minutes.
 *
 * A test that needs more time than its tier's default says so itself (`it(name, fn, ms)`).
 */
export default defineConfig({
  test: {
    projects: [
      {
        test: {
          name: "fast",
          include: ["test/**/*.test.ts", "src/**/*.test.ts"],
          exclude: [...configDefaults.exclude, "**/*.e2e.test.ts"],
          isolate: false,
          maxWorkers: "100%",
          testTimeout: 30_000,
          hookTimeout: 30_000,
          sequence: { groupOrder: 0 },
        },
      },
      {
        test: {
          name: "e2e",
          include: ["test/**/*.e2e.test.ts", "src/**/*.e2e.test.ts"],
          globalSetup: ["test/setup/build.ts"],
          testTimeout: 180_000,
          hookTimeout: 300_000,
          sequence: { groupOrder: 1 },
        },
      },
    ],
  },
});
