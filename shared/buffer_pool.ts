/**
 * A bounded pool of equally sized byte buffers. Fresh memory is expensive to
 * touch (every page faults in), so piece-sized buffers are reused instead of
 * allocated per piece, and their number is capped so that memory stays flat.
 */

/** At most `count` reusable buffers of `size` bytes. */
export class BufferPool {
  readonly size: number;
  #count: number;
  #made = new WeakSet<ArrayBuffer>();
  #madeCount = 0;
  #free: ArrayBuffer[] = [];
  #waiters: (() => void)[] = [];

  /** Buffers of `size` bytes, at most `count` of them made. */
  constructor(size: number, count: number) {
    this.size = size;
    this.#count = count;
  }

  /** Pooled buffers not in use (made or still to be made). */
  get available(): number {
    return this.#free.length + this.#count - this.#madeCount;
  }

  /**
   * A buffer of `len` bytes: a view of a pooled buffer, or plain memory when
   * `len` exceeds `size` or every pooled buffer is in use.
   */
  get(len: number): Uint8Array<ArrayBuffer> {
    if (len > this.size) return new Uint8Array(len);
    let ab = this.#free.pop();
    if (!ab && this.#madeCount < this.#count) {
      ab = new ArrayBuffer(this.size);
      this.#made.add(ab);
      this.#madeCount++;
    }
    return ab ? new Uint8Array(ab, 0, len) : new Uint8Array(len);
  }

  /** True if `buf` is a view of one of this pool's buffers. */
  owns(buf: Uint8Array): boolean {
    return buf.buffer instanceof ArrayBuffer && this.#made.has(buf.buffer);
  }

  /** Returns a buffer (or a view into one) from `get`; it must not be used afterwards. */
  release(buf: Uint8Array): void {
    if (!this.owns(buf)) return;
    const ab = buf.buffer as ArrayBuffer;
    if (this.#free.includes(ab)) return;
    this.#free.push(ab);
    this.#waiters.shift()?.();
  }

  /** Resolves once a pooled buffer is available. */
  whenAvailable(): Promise<void> {
    if (this.available > 0) return Promise.resolve();
    return new Promise((resolve) => this.#waiters.push(resolve));
  }
}
