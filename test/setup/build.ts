import { execFileSync } from "node:child_process";

/** Builds dist/ once before the tests: the binary and generated programs run the built code. */
export default function setup(): void {
  execFileSync(process.execPath, ["node_modules/typescript/bin/tsc", "-p", "tsconfig.build.json"], { stdio: "inherit" });
}
