import { readFileSync, renameSync, statSync, writeFileSync } from "node:fs";
import { Codes, EXIT_ERRORS, EXIT_OK, MeanetError, renderDiagnostics, Source } from "../diagnostics/index.js";
import { formatSpec } from "../parser/format.js";
import { parse } from "../parser/index.js";
import { specsIn } from "../toolchain/load.js";
import { defineCommand } from "./command.js";

export const usage = "usage: meanet fmt FILE|DIR… [--check] [--write]";

/**
 * `meanet fmt`: the canonical layout of each spec (a directory stands for the `.meanet` files in
 * it). By default the formatted text goes to standard output; `--write` rewrites the files that
 * change; `--check` writes nothing and exits 1 naming the files that would change. A spec that
 * does not parse is left untouched and its syntax errors are printed (exit 1).
 */
export const fmt = defineCommand({
  usage,
  options: { check: { type: "boolean" }, write: { type: "boolean" } },
  positionals: ["FILE…"],
  read: (values, files) => ({ files, check: Boolean(values.check), write: Boolean(values.write) }),
  run({ files, check, write }, io) {
    const paths = files.flatMap((f) => (statSync(f, { throwIfNoEntry: false })?.isDirectory() ? specsIn(f) : [f]));
    let failed = false;
    for (const path of paths) {
      let text: string;
      try {
        text = readFileSync(path, "utf8");
      } catch {
        throw new MeanetError(Codes.FileUnreadable, `cannot read spec file \`${path}\``);
      }
      const syntax = parse(new Source(path, text)).diagnostics.filter((d) => d.severity === "error");
      const formatted = syntax.length ? null : formatSpec(text);
      if (formatted === null) {
        io.err(`${path}: not formatted, it does not parse:\n${renderDiagnostics(syntax)}`);
        failed = true;
        continue;
      }
      if (check) {
        if (formatted !== text) {
          io.out(`${path}: would be reformatted`);
          failed = true;
        }
      } else if (write) {
        if (formatted === text) continue;
        const tmp = `${path}.fmt-${process.pid}`;
        writeFileSync(tmp, formatted);
        renameSync(tmp, path);
        io.out(`${path}: formatted`);
      } else io.out(formatted.replace(/\n$/, ""));
    }
    return failed ? EXIT_ERRORS : EXIT_OK;
  },
});
