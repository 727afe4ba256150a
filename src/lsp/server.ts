/**
 * `meanet lsp`: a Language Server Protocol server over stdio. On every change of an open spec it
 * compiles it (imports read from the open documents first, then from disk; `std/` from the
 * package) and publishes the diagnostics of `meanet check` for it and for each file they point
 * into; it answers hover (shapes and costs of a statement or a block) and document symbols.
 */
import { fileURLToPath } from "node:url";
import { createConnection, ErrorCodes, ProposedFeatures, ResponseError, TextDocuments, TextDocumentSyncKind, type Connection } from "vscode-languageserver/node.js";
import { TextDocument } from "vscode-languageserver-textdocument";
import type { FileSystem } from "../ir/index.js";
import { formatSpec } from "../parser/format.js";
import { nodeFs } from "../toolchain/fs.js";
import { analyse, definitionAt, diagnosticsByFile, documentSymbols, hoverAt, referencesAt, renameAt, uriOf, type Analysis } from "./analysis.js";

/** Runs the server on a connection (stdio by default) until the client exits. */
export function startServer(connection: Connection = createConnection(ProposedFeatures.all, process.stdin, process.stdout)): Connection {
  const documents = new TextDocuments(TextDocument);
  const analyses = new Map<string, Analysis>();
  /** The files each open document last published diagnostics to, so that fixed ones are cleared. */
  const published = new Map<string, Set<string>>();

  // Imports resolve as on disk, but an open document's text wins over its file.
  const fs: FileSystem = {
    read(path) {
      const open = documents.get(uriOf(path));
      return open ? open.getText() : nodeFs.read(path);
    },
    resolve: (from, spec) => nodeFs.resolve(from, spec),
  };

  const refresh = (doc: TextDocument) => {
    let analysis: Analysis;
    try {
      analysis = analyse(fileURLToPath(doc.uri), doc.getText(), fs);
    } catch (e) {
      // The compiler never throws on bad input; if it does, say so on the file instead of dying.
      connection.sendDiagnostics({ uri: doc.uri, diagnostics: [{ range: { start: { line: 0, character: 0 }, end: { line: 0, character: 0 } }, message: `meanet lsp: internal error: ${e instanceof Error ? e.message : String(e)}`, source: "meanet" }] });
      return;
    }
    analyses.set(doc.uri, analysis);
    const byFile = diagnosticsByFile(analysis);
    const before = published.get(doc.uri) ?? new Set<string>();
    for (const uri of before) if (!byFile.has(uri)) connection.sendDiagnostics({ uri, diagnostics: [] });
    for (const [uri, diagnostics] of byFile) connection.sendDiagnostics({ uri, diagnostics });
    published.set(doc.uri, new Set(byFile.keys()));
  };

  connection.onInitialize(() => ({
    capabilities: { textDocumentSync: TextDocumentSyncKind.Incremental, hoverProvider: true, documentSymbolProvider: true, definitionProvider: true, referencesProvider: true, renameProvider: true, documentFormattingProvider: true },
    serverInfo: { name: "meanet" },
  }));
  documents.onDidChangeContent((e) => refresh(e.document));
  documents.onDidClose((e) => {
    analyses.delete(e.document.uri);
    for (const uri of published.get(e.document.uri) ?? []) connection.sendDiagnostics({ uri, diagnostics: [] });
    published.delete(e.document.uri);
  });
  answerRequests(connection, documents, analyses);
  documents.listen(connection);
  connection.listen();
  return connection;
}

/** The requests on an open document: hover, definition, references, rename, formatting, symbols. */
function answerRequests(connection: Connection, documents: TextDocuments<TextDocument>, analyses: Map<string, Analysis>): void {
  const open = (uri: string) => ({ doc: documents.get(uri), a: analyses.get(uri) });
  connection.onHover((p) => {
    const { doc, a } = open(p.textDocument.uri);
    return doc && a ? (hoverAt(a, doc.offsetAt(p.position)) ?? null) : null;
  });
  connection.onDefinition((p) => {
    const { doc, a } = open(p.textDocument.uri);
    return doc && a ? (definitionAt(a, doc.offsetAt(p.position)) ?? null) : null;
  });
  connection.onReferences((p) => {
    const { doc, a } = open(p.textDocument.uri);
    return doc && a ? referencesAt(a, doc.offsetAt(p.position), p.context.includeDeclaration) : [];
  });
  connection.onRenameRequest((p) => {
    const { doc, a } = open(p.textDocument.uri);
    if (!doc || !a) return null;
    const r = renameAt(a, doc.offsetAt(p.position), p.newName);
    if ("error" in r) throw new ResponseError(ErrorCodes.InvalidRequest, r.error);
    return { changes: { [p.textDocument.uri]: r.edits } };
  });
  connection.onDocumentFormatting((p) => {
    const { doc, a } = open(p.textDocument.uri);
    // As `meanet fmt`: a spec with syntax errors is left as it is.
    if (!doc || !a || a.result.diagnostics.some((d) => d.severity === "error" && d.code.startsWith("MN1"))) return [];
    const text = doc.getText();
    const formatted = formatSpec(text);
    if (formatted === null || formatted === text) return [];
    return [{ range: { start: { line: 0, character: 0 }, end: doc.positionAt(text.length) }, newText: formatted }];
  });
  connection.onDocumentSymbol((p) => {
    const { a } = open(p.textDocument.uri);
    return a ? documentSymbols(a.ast) : [];
  });
}
