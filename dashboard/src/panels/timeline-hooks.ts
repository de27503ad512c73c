import { useCallback, useEffect, useRef, useState } from 'preact/hooks';

/**
 * "Now" for the chart, advancing by itself: every animation frame for short windows (where a frame moves
 * marks by pixels, so a slower tick would make them jump) or every `periodMs` otherwise. While `frozen` the
 * time stands still, so a person can point at a mark without it sliding away.
 */
export function useChartClock(now: () => number, periodMs: number | 'frame', frozen: boolean): number {
  const [nowMs, setNowMs] = useState(now);
  const read = useRef(now);
  read.current = now;
  useEffect(() => {
    if (frozen) return;
    if (periodMs === 'frame') {
      let handle = requestAnimationFrame(function step() {
        setNowMs(read.current());
        handle = requestAnimationFrame(step);
      });
      return () => cancelAnimationFrame(handle);
    }
    setNowMs(read.current());
    const timer = setInterval(() => setNowMs(read.current()), periodMs);
    return () => clearInterval(timer);
  }, [periodMs, frozen]);
  return nowMs;
}

/** The width in px of the element the returned ref is attached to, kept up to date as it resizes. */
export function useWidth(fallbackPx: number): [(element: HTMLElement | null) => void, number] {
  const [width, setWidth] = useState(fallbackPx);
  const observer = useRef<ResizeObserver | null>(null);
  const ref = useCallback(
    (element: HTMLElement | null) => {
      observer.current?.disconnect();
      observer.current = null;
      if (!element) return;
      setWidth(element.clientWidth || fallbackPx);
      observer.current = new ResizeObserver(() => setWidth(element.clientWidth || fallbackPx));
      observer.current.observe(element);
    },
    [fallbackPx],
  );
  return [ref, width];
}
