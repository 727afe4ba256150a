/**
 * Which slice of the global batch this thread trains on, in a data-parallel run. The layers whose
 * training-mode result depends on the whole batch read it: batch norm meets the other replicas for
 * the batch's statistics, dropout draws the whole batch's mask and keeps its own rows. Unset (one
 * thread), they work on the batch they are given.
 */
import type { Collective } from "./collective.js";

export interface Shard {
  collective: Collective;
  /** Images in the global batch, and this shard's first row and row count in it. */
  globalCount: number;
  offset: number;
  count: number;
}

let current: Shard | undefined;

export function setShard(shard: Shard | undefined): void {
  current = shard;
}

export function currentShard(): Shard | undefined {
  return current;
}
