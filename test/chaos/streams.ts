/** A streaming completion that has delivered its first chunk; `rest()` reads on until the end or a cut. */
export interface OpenStream {
  /** The response id from the first chunk: the invocation id. */
  readonly id: string;
  /** Everything received, and whether the connection ended cleanly (false: reset, the server died). */
  rest(): Promise<{ readonly text: string; readonly clean: boolean }>;
}

export async function openStream(url: string, body: Record<string, unknown>): Promise<OpenStream> {
  const res = await fetch(`${url}/v1/completions`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify({ prompt: 'The tide', temperature: 0, ...body, stream: true }),
  });
  if (res.status !== 200) throw new Error(`stream refused: ${res.status} ${await res.text()}`);
  const reader = res.body!.getReader();
  const decoder = new TextDecoder();
  let text = decoder.decode((await reader.read()).value, { stream: true });
  const id = String((JSON.parse(text.split('\n\n')[0]!.slice('data: '.length)) as { id: string }).id);
  return {
    id,
    async rest() {
      try {
        for (;;) {
          const { value, done } = await reader.read();
          if (done) return { text, clean: true };
          text += decoder.decode(value, { stream: true });
        }
      } catch {
        return { text, clean: false };
      }
    },
  };
}

/** The last `data:` frame of an SSE text, parsed; undefined for `[DONE]` or none. */
export function lastFrame(text: string): Record<string, unknown> | undefined {
  const frames = text
    .split('\n\n')
    .map((f) => f.trim())
    .filter((f) => f.startsWith('data: '));
  const last = frames.at(-1)?.slice('data: '.length);
  return last === undefined || last === '[DONE]' ? undefined : (JSON.parse(last) as Record<string, unknown>);
}

export const finishedCleanly = (text: string): boolean => text.trimEnd().endsWith('data: [DONE]');
