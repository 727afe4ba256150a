export { parse, type ParseResult } from "./parse.js";
export type * from "./ast.js";
export { UNITS } from "./tokens.js";
