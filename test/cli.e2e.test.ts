/**
 * The installed binary, bin/meanet.js, runs the built CLI in dist/ (built by the e2e tier's setup,
 * as `npm install` builds it through the prepare script). The commands themselves are tested in
 * process by test/cli.test.ts.
 */
import { spawnSync } from "node:child_process";
import { describe, expect, it } from "vitest";

describe("the installed binary", () => {
  it("bin/meanet.js runs the built CLI", () => {
    // dist/ is built by the test setup, as `npm install` builds it through the prepare script.
    const r = spawnSync(process.execPath, ["bin/meanet.js", "check", "examples/imagenet-resnet18.meanet", "--format", "json"], { encoding: "utf8" });
    expect(r.status).toBe(0);
    expect(JSON.parse(r.stdout)).toEqual({ diagnostics: [] });
    const bad = spawnSync(process.execPath, ["bin/meanet.js", "inspect"], { encoding: "utf8" });
    expect(bad.status).toBe(2);
    expect(bad.stderr).toContain("usage: meanet inspect");
  });
});
