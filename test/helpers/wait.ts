import { setTimeout as sleep } from "node:timers/promises";

/**
 * Asks `check` until it answers something other than undefined, at most `attempts` times with
 * `intervalMs` between tries, and returns that answer. When it never does, throws an error that
 * says what was awaited and, from `state`, what was seen instead: a poll never waits forever.
 */
export async function pollUntil<T>(
  what: string,
  check: () => T | undefined | Promise<T | undefined>,
  { attempts = 400, intervalMs = 25, state }: { attempts?: number; intervalMs?: number; state?: () => string } = {},
): Promise<T> {
  for (let i = 0; i < attempts; i++) {
    const answer = await check();
    if (answer !== undefined) return answer;
    await sleep(intervalMs);
  }
  throw new Error(`${what}: not seen after ${attempts} tries ${intervalMs} ms apart${state ? `; last seen: ${state()}` : ""}`);
}
