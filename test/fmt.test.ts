/** `meanet fmt`: the canonical layout, kept comments, idempotence, the repository's specs already formatted, and the command's modes. */
import { execFileSync } from "node:child_process";
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { main } from "../src/cli/main.js";
import type { Io } from "../src/cli/io.js";
import { formatSpec } from "../src/parser/format.js";

const tmp = mkdtempSync(join(tmpdir(), "meanet-fmt-"));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

const MESSY = `model   m
input image:u8[28,28,1]
labels  ["a","b"]
device edge : edge_int8_45nm{ }



block main on edge{
x=conv2d( image ,8,kernel:3)   # first
      # a note
    y = basic_block(x, 8) x (2 - 1)
exit main over all=dense(flatten(y),2)
}
route{
main when max_prob(main)>-0.5 and not (entropy(main) >= 1)
main otherwise
}
train { stage main {train:[main],epochs:2} }
`;

const FORMATTED = `model m
input image: u8[28, 28, 1]
labels ["a", "b"]
device edge: edge_int8_45nm {}

block main on edge {
  x = conv2d(image, 8, kernel: 3) # first
  # a note
  y = basic_block(x, 8) x (2 - 1)
  exit main over all = dense(flatten(y), 2)
}
route {
  main when max_prob(main) > -0.5 and not (entropy(main) >= 1)
  main otherwise
}
train { stage main { train: [main], epochs: 2 } }
`;

async function run(argv: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = "";
  let err = "";
  const io: Io = { out: (t) => void (out += `${t}\n`), err: (t) => void (err += `${t}\n`), isTty: false };
  const code = await main(argv, io);
  return { code, out, err };
}

describe("meanet fmt", () => {
  it("lays a spec out canonically, keeping every comment and the line structure", () => {
    expect(formatSpec(MESSY)).toBe(FORMATTED);
    expect(formatSpec(FORMATTED)).toBe(FORMATTED);
  });

  it("finds every spec of the repository formatted (what `meanet fmt --check` checks in CI)", () => {
    const specs = execFileSync("git", ["ls-files", "examples/*.meanet", "dsl/std/*.meanet"], { encoding: "utf8" }).trim().split("\n");
    expect(specs.length).toBeGreaterThanOrEqual(7);
    for (const f of specs) expect(formatSpec(readFileSync(f, "utf8")), f).toBe(readFileSync(f, "utf8"));
  });

  it("is idempotent on every golden error spec it can lex, and never throws", () => {
    for (const f of readdirSync("test/golden").filter((x) => x.endsWith(".meanet"))) {
      const once = formatSpec(readFileSync(join("test/golden", f), "utf8"));
      if (once !== null) expect(formatSpec(once), f).toBe(once);
    }
  });

  it("--check names the files that would change and exits 1; --write rewrites only those; a spec that does not parse is left untouched (exit 1)", async () => {
    const messy = join(tmp, "messy.meanet");
    const tidy = join(tmp, "tidy.meanet");
    writeFileSync(messy, MESSY);
    writeFileSync(tidy, FORMATTED);
    const check = await run(["fmt", "--check", messy, tidy]);
    expect(check.code).toBe(1);
    expect(check.out.trim()).toBe(`${messy}: would be reformatted`);
    expect(readFileSync(messy, "utf8")).toBe(MESSY);
    const write = await run(["fmt", "--write", tmp]);
    expect(write.code).toBe(0);
    expect(write.out.trim()).toBe(`${messy}: formatted`);
    expect(readFileSync(messy, "utf8")).toBe(FORMATTED);
    expect((await run(["fmt", "--check", tmp])).code).toBe(0);
    const printed = await run(["fmt", tidy]);
    expect(printed.out).toBe(FORMATTED);

    const broken = join(tmp, "broken.meanet");
    const text = "block main on edge {\n  x = conv2d(image, 8\n";
    writeFileSync(broken, text);
    const r = await run(["fmt", "--write", broken]);
    expect(r.code).toBe(1);
    expect(r.err).toContain("does not parse");
    expect(r.err).toMatch(/MN1\d{3}/);
    expect(readFileSync(broken, "utf8")).toBe(text);
    rmSync(broken);
  });
});
