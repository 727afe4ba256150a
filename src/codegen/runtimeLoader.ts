import type { SourceFile } from "ts-morph";

/** What a generated program needs to find the meanet runtime. */
export interface RuntimeLoader {
  /** The package subpath the program imports, e.g. `runtime/infer`. */
  subpath: string;
  /** The program's path inside the build directory, for the error message, e.g. `edge/router.ts`. */
  program: string;
  /** The folder whose package.json cuts the program off from a checkout's, e.g. `edge`. */
  folder: string;
  /**
   * A boolean variable of the program, true when the file runs as a program; when it is false (the file is
   * imported), a missing runtime throws instead of exiting. Absent: the file is always a program.
   */
  isProgram?: string;
}

/** The node:fs, node:path and node:url imports `loadRuntime` uses. */
export function addRuntimeImports(file: SourceFile): void {
  file.addImportDeclarations([
    { moduleSpecifier: "node:fs", namedImports: ["existsSync", "readFileSync"] },
    { moduleSpecifier: "node:path", namedImports: ["dirname", "join"] },
    { moduleSpecifier: "node:url", namedImports: ["fileURLToPath", "pathToFileURL"] },
  ]);
}

/**
 * Adds `type Runtime` and `async function loadRuntime()` to a generated program. The runtime is the
 * installed package (`npm install meanet` where the build is deployed), else the meanet checkout
 * the build directory lies in (a build written into ./build of a clone): the program's folder has a
 * package.json of its own, so Node's self-reference by name does not reach the checkout's. The
 * program declares `buildDir` and adds the imports of `addRuntimeImports` among its own.
 */
export function addRuntimeLoader(file: SourceFile, l: RuntimeLoader): void {
  const specifier = `meanet/${l.subpath}`;
  file.addStatements(`type Runtime = typeof import(${JSON.stringify(specifier)});`);
  file.addFunction({
    isAsync: true,
    name: "loadRuntime",
    docs: [
      [
        `The meanet runtime (${specifier}): the installed package (\`npm install meanet\` where the build is`,
        "deployed), else the meanet checkout the build directory lies in (a build written into ./build of a",
        `clone), whose package.json cannot be reached by name from here: ${l.folder}/package.json marks a package of its own.`,
      ].join("\n"),
    ],
    returnType: "Promise<Runtime>",
    statements: [
      "try {",
      `  return await import(${JSON.stringify(specifier)});`,
      "} catch (e) {",
      "  if ((e as { code?: string }).code !== \"ERR_MODULE_NOT_FOUND\" || !(e as Error).message.includes(\"'meanet'\")) throw e;",
      "}",
      "let problem = `found neither installed (npm install meanet beside the build) nor around ${buildDir} (a build inside a meanet checkout)`;",
      "for (let dir = buildDir; dirname(dir) !== dir; dir = dirname(dir)) {",
      "  let pkg: { name?: unknown; exports?: Record<string, unknown> };",
      "  try {",
      '    pkg = JSON.parse(readFileSync(join(dir, "package.json"), "utf8")) as typeof pkg;',
      "  } catch {",
      "    continue;",
      "  }",
      `  const entry = pkg.name === "meanet" ? pkg.exports?.[${JSON.stringify(`./${l.subpath}`)}] : undefined;`,
      '  if (typeof entry !== "string") continue;',
      "  if (existsSync(join(dir, entry))) return (await import(pathToFileURL(join(dir, entry)).href)) as Runtime;",
      "  problem = `the meanet checkout at ${dir} is not built: run npm install there`;",
      "  break;",
      "}",
      `const message = \`${l.program} needs the meanet package: \${problem}\`;`,
      ...(l.isProgram ? [`if (!${l.isProgram}) throw new Error(message);`] : []),
      "process.stderr.write(`error: ${message}\\n`);",
      "process.exit(1);",
    ].join("\n"),
  });
}
