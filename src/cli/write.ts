export { writeAtomic } from "../runtime/files.js";
