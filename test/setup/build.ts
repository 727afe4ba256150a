import { execFileSync } from "node:child_process";

/**
 * The e2e tier's global setup (vitest.config.ts): builds dist/ once before its tests, since the
 * binary (bin/meanet.js) and the generated programs run the built code. The fast tier needs no build.
 */
export default function setup(): void {
  execFileSync(process.execPath, ["node_modules/typescript/bin/tsc", "-p", "tsconfig.build.json"], { stdio: "inherit" });
}
