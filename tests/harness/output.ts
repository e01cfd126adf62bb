/** A child process's output stream, collected as text and as timed lines while it runs. */

/** One complete line of output and when it arrived (`performance.now()`). */
export interface Line {
  text: string;
  at: number;
  /** Its index among the stream's lines. */
  index: number;
}

/** Collects a stream as text and lines; {@linkcode next} wakes a waiter at each chunk. */
export class Output {
  /** Everything received so far. */
  text = "";
  /** Resolves once the stream has ended. */
  readonly done: Promise<void>;
  /** True once the stream has ended. */
  ended = false;
  readonly #lines: string[] = [];
  readonly #at: number[] = [];
  #partial = "";
  #wake = Promise.withResolvers<void>();

  constructor(stream: ReadableStream<Uint8Array>) {
    this.done = (async () => {
      const decoder = new TextDecoder();
      try {
        for await (const chunk of stream) this.#add(decoder.decode(chunk, { stream: true }));
      } catch { /* the process died mid-write */ }
      this.#add(decoder.decode());
      this.ended = true;
      this.#wake.resolve();
    })();
  }

  /** Complete lines received so far. */
  lines(): readonly string[] {
    return this.#lines;
  }

  /** Line `index` with its arrival time. */
  line(index: number): Line {
    return { text: this.#lines[index]!, at: this.#at[index]!, index };
  }

  /** Resolves when more output arrives or the stream ends (at once once it has ended). */
  next(): Promise<void> {
    return this.#wake.promise;
  }

  #add(s: string): void {
    if (s === "") return;
    this.text += s;
    const parts = (this.#partial + s).split("\n");
    this.#partial = parts.pop()!;
    const now = performance.now();
    for (const p of parts) {
      this.#lines.push(p);
      this.#at.push(now);
    }
    const wake = this.#wake;
    this.#wake = Promise.withResolvers<void>();
    wake.resolve();
  }
}
