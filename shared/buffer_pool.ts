/**
 * A pool of equally sized byte buffers. Fresh memory is expensive to touch
 * (every page faults in), so piece-sized buffers are reused instead of
 * allocated per piece.
 */
export class BufferPool {
  readonly size: number;
  #free: ArrayBuffer[] = [];
  #max: number;

  /** Buffers of `size` bytes; at most `max` idle ones are kept. */
  constructor(size: number, max = 64) {
    this.size = size;
    this.#max = max;
  }

  /** A buffer of `len` bytes (at most `size`): a view of a pooled buffer. */
  get(len: number): Uint8Array<ArrayBuffer> {
    if (len > this.size) return new Uint8Array(len);
    const ab = this.#free.pop() ?? new ArrayBuffer(this.size);
    return new Uint8Array(ab, 0, len);
  }

  /** Returns a buffer obtained from `get`; the caller must not use it afterwards. */
  release(buf: Uint8Array): void {
    const ab = buf.buffer;
    if (ab instanceof ArrayBuffer && ab.byteLength === this.size && this.#free.length < this.#max) {
      this.#free.push(ab);
    }
  }
}
