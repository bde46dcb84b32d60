/**
 * How much of the backing files' mappings the copies of cached reads (FileReads) may leave
 * mapped, process-wide. A page a copy faulted in stays mapped until unmapped, and mapped file
 * pages count in the process's RSS and in the OOM killer's score (get_mm_rss counts
 * MM_FILEPAGES): a node that had read its LUs through would look as large as them. So the
 * mappings are tracked in chunks; once more chunks have been touched than the budget allows, the
 * oldest is unmapped again (madvise DONTNEED: its pages stay in the page cache, the next copy
 * maps them back with a minor fault). Unmapping one chunk costs at most its 512 page-table
 * entries, a few tens of microseconds on the loop, never a sweep of the whole mapping.
 */

/** The unit of tracking and of unmapping. */
export const MAPPED_CHUNK_BYTES = 2 << 20;

/** The default budget: mapped file pages left by reads, all LUs of the process together. */
export const MAPPED_RESIDENT_BYTES = 1 << 30;

/** A mapping whose chunks are tracked: unmaps one when the budget needs it back. */
export interface MappedChunks {
  dropChunk(chunk: number): void;
}

export class MappedResidency {
  readonly #limit: number;
  /** Touched chunks, oldest first from #head: owners and chunk numbers, side by side. */
  #owners: MappedChunks[] = [];
  #chunks: number[] = [];
  #head = 0;

  constructor(budgetBytes = MAPPED_RESIDENT_BYTES) {
    this.#limit = Math.max(1, Math.floor(budgetBytes / MAPPED_CHUNK_BYTES));
  }

  /** Chunks currently counted against the budget. */
  get count(): number {
    return this.#owners.length - this.#head;
  }

  /** `owner` has mapped (part of) `chunk` for the first time since it last dropped it. */
  touched(owner: MappedChunks, chunk: number): void {
    this.#owners.push(owner);
    this.#chunks.push(chunk);
    while (this.count > this.#limit) {
      const o = this.#owners[this.#head]!;
      const c = this.#chunks[this.#head]!;
      this.#head++;
      o.dropChunk(c);
    }
    if (this.#head > 4096 && this.#head * 2 > this.#owners.length) {
      this.#owners = this.#owners.slice(this.#head);
      this.#chunks = this.#chunks.slice(this.#head);
      this.#head = 0;
    }
  }
}

/** The process's budget, shared by every FileDevice. */
export const mappedResidency = new MappedResidency();
