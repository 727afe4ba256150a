export * from "./source.js";
export * from "./diagnostic.js";
export * from "./render.js";
export * from "./suggest.js";
export { Codes } from "./codes.js";
export { type Code } from "./codes.js";
export * from "./error.js";
