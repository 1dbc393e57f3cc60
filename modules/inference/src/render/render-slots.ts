/**
 * At most `size` renders at once, the rest wait in arrival order: each render holds the decoded full-size image and
 * its rasterised overlay in the main process (up to ~0.3 GB at the 40-megapixel limit), outside the worker pool's bound.
 */
export class RenderSlots {
  private running = 0;
  private readonly waiting: (() => void)[] = [];

  constructor(private readonly size: number) {}

  async run<T>(task: () => Promise<T>): Promise<T> {
    if (this.running >= this.size) await new Promise<void>((resolve) => this.waiting.push(resolve));
    else this.running += 1;
    try {
      return await task();
    } finally {
      // The slot passes straight to the next waiter, so `running` counts it without a gap a newcomer could take.
      const next = this.waiting.shift();
      if (next) next();
      else this.running -= 1;
    }
  }
}
