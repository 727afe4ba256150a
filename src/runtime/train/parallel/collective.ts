/**
 * The shared memory the replicas of a data-parallel training run meet in, and the three operations
 * they meet for: a sum of every replica's vector (batch-norm statistics), a sum gathered at rank 0
 * (gradients), and rank 0's vector copied to the others (weights). Each is blocking: every replica
 * calls it in the same order with a vector of the same length, and returns once all have.
 *
 * Sums run in rank order, so a run with a given number of replicas is deterministic; results with
 * another number differ by float reassociation only.
 */
import { Codes, MeanetError } from "../../../diagnostics/index.js";

/** What the replicas share: built once by rank 0 and handed to every worker. */
export interface GroupMemory {
  size: number;
  /** Floats each replica's slot holds: the longest vector any operation may carry. */
  slotLength: number;
  control: SharedArrayBuffer;
  slots: SharedArrayBuffer;
  /** Two sets of small per-replica slots that `allReduce` alternates between. */
  small: SharedArrayBuffer;
  /** Why a replica gave up, UTF-8, for the others' error. */
  reason: SharedArrayBuffer;
}

const COUNT = 0;
const GENERATION = 1;
const ABORTED = 2;
const REASON_LENGTH = 3;
const REASON_BYTES = 2048;
/** Floats per replica in each set of `allReduce`'s slots: batch-norm statistics of up to this many channels. */
export const SMALL_SLOT = 16384;

/** How long a replica waits for the others at one meeting before it concludes one has died. */
export const MEETING_TIMEOUT_MS = 300_000;

export function groupMemory(size: number, slotLength: number): GroupMemory {
  return {
    size,
    slotLength,
    control: new SharedArrayBuffer(4 * Int32Array.BYTES_PER_ELEMENT),
    slots: new SharedArrayBuffer(size * slotLength * Float32Array.BYTES_PER_ELEMENT),
    small: new SharedArrayBuffer(2 * size * SMALL_SLOT * Float32Array.BYTES_PER_ELEMENT),
    reason: new SharedArrayBuffer(REASON_BYTES),
  };
}

/** A replica gave up (or stopped answering); every other replica's next meeting throws this. */
export class ReplicaFailure extends MeanetError {
  constructor(message: string) {
    super(Codes.TrainingFailed, message);
  }
}

export class Collective {
  readonly size: number;
  private readonly control: Int32Array;
  private readonly slots: Float32Array[];
  private readonly small: Float32Array[][];
  private reductions = 0;

  constructor(
    readonly rank: number,
    private readonly memory: GroupMemory,
    private readonly timeoutMs = MEETING_TIMEOUT_MS,
  ) {
    this.size = memory.size;
    this.control = new Int32Array(memory.control);
    this.slots = Array.from({ length: memory.size }, (_, r) => new Float32Array(memory.slots, r * memory.slotLength * 4, memory.slotLength));
    this.small = [0, 1].map((set) => Array.from({ length: memory.size }, (_, r) => new Float32Array(memory.small, (set * memory.size + r) * SMALL_SLOT * 4, SMALL_SLOT)));
  }

  /**
   * Every replica gets Σ_r local_r, summed in rank order; at most SMALL_SLOT floats. Consecutive
   * calls alternate between two sets of slots, so one meeting each suffices: a replica can write a
   * set again only after everyone has met at the call between, by which time all have read it.
   */
  allReduce(local: Float32Array): Float32Array {
    if (local.length > SMALL_SLOT) throw new Error(`a replica sum of ${local.length} floats exceeds the ${SMALL_SLOT} the shared slots hold`);
    const slots = this.small[this.reductions++ & 1]!;
    slots[this.rank]!.set(local);
    this.barrier();
    const out = slots[0]!.slice(0, local.length);
    for (let r = 1; r < this.size; r++) {
      const s = slots[r]!;
      for (let i = 0; i < local.length; i++) out[i]! += s[i]!;
    }
    return out;
  }

  /** Rank 0 gets Σ_r local_r (rank order); the others get undefined. The next operation must be `broadcast`, which rank 0 starts only after reading. */
  reduceToRoot(local: Float32Array): Float32Array | undefined {
    this.write(local);
    this.barrier();
    return this.rank === 0 ? this.sum(local.length) : undefined;
  }

  /** Rank 0's `fill` writes `length` floats; every other replica gets a copy of them. */
  broadcast(length: number, fill?: (into: Float32Array) => void): Float32Array {
    this.check(length);
    const slot = this.slots[0]!.subarray(0, length);
    if (this.rank === 0) fill!(slot);
    this.barrier();
    const out = this.rank === 0 ? slot : slot.slice();
    this.barrier();
    return out;
  }

  /** Tells the other replicas this one failed, waking any that wait. */
  abort(message: string): void {
    const bytes = new TextEncoder().encode(message).subarray(0, REASON_BYTES);
    new Uint8Array(this.memory.reason).set(bytes);
    Atomics.store(this.control, REASON_LENGTH, bytes.length);
    Atomics.store(this.control, ABORTED, 1);
    Atomics.notify(this.control, GENERATION);
  }

  private write(local: Float32Array): void {
    this.check(local.length);
    this.slots[this.rank]!.set(local);
  }

  private sum(length: number): Float32Array {
    const out = this.slots[0]!.slice(0, length);
    for (let r = 1; r < this.size; r++) {
      const s = this.slots[r]!;
      for (let i = 0; i < length; i++) out[i]! += s[i]!;
    }
    return out;
  }

  private check(length: number): void {
    if (length > this.memory.slotLength) throw new Error(`a replica exchange of ${length} floats exceeds the shared slot of ${this.memory.slotLength}`);
  }

  private barrier(): void {
    const c = this.control;
    const generation = Atomics.load(c, GENERATION);
    if (Atomics.add(c, COUNT, 1) === this.size - 1) {
      Atomics.store(c, COUNT, 0);
      Atomics.add(c, GENERATION, 1);
      Atomics.notify(c, GENERATION);
      return;
    }
    const deadline = Date.now() + this.timeoutMs;
    while (Atomics.load(c, GENERATION) === generation) {
      if (Atomics.load(c, ABORTED)) throw new ReplicaFailure(this.failureText());
      if (Date.now() > deadline) {
        this.abort(`training replica ${this.rank} waited ${this.timeoutMs / 1000} s for the others`);
        throw new ReplicaFailure(`a training worker stopped answering (replica ${this.rank} waited ${this.timeoutMs / 1000} s); rerun with --workers 1 to train on one thread`);
      }
      Atomics.wait(c, GENERATION, generation, 1000);
    }
  }

  private failureText(): string {
    const length = Atomics.load(this.control, REASON_LENGTH);
    const reason = new TextDecoder().decode(new Uint8Array(this.memory.reason).slice(0, length));
    return `a training worker failed: ${reason || "no reason given"}`;
  }
}
