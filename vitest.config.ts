import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["test/**/*.test.ts", "src/**/*.test.ts"],
    globalSetup: ["test/setup/build.ts"],
    testTimeout: 600_000,
    hookTimeout: 120_000,
  },
});
