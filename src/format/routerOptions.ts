/**
 * The options of the generated edge/router.ts run as a program: those of `meanet run` after
 * DIR/<model>. Apart from the emitter (which loads ts-morph) so the runtime can print the same
 * usage without loading it.
 */
export const ROUTER_PROGRAM_OPTIONS = "[--cloud URL] [--data DIR] [--limit N] [--batch N] [--token-file F] [--timeout-ms T] [--json]";
