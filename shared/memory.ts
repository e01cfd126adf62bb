/**
 * Keeps freed piece-sized memory in the process instead of returning it to
 * the OS after every free.
 *
 * `crypto.subtle.digest` copies its input, so every piece hash allocates and
 * frees 512 KiB. With glibc's defaults that memory is handed back to the
 * kernel (heap trim) and faulted in again, page by page, for the next piece:
 * on a VM each fault is an exit to the host, and this cost more than the SHA-1
 * itself. Freeing one block larger than a piece raises glibc's dynamic mmap
 * and trim thresholds (to this size and twice it), so the heap keeps up to
 * twice this much free memory for reuse. The setting is process-wide.
 */

/** The size of the block whose free raises the thresholds; above a piece, well below RSS goals. */
const RETAIN_BYTES = 4 * 1024 * 1024;

/** Raises the allocator's thresholds once; call at start-up, before workers start. */
export function retainFreedMemory(): void {
  // An allocation this large is mapped directly; transfer(0) frees it at once
  // (no waiting for garbage collection), which is what moves the thresholds.
  new ArrayBuffer(RETAIN_BYTES).transfer(0);
}
