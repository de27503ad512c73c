// A long tiny-chat completion stream, opened and read to its first chunk, so a fault can land while it runs.

/** A 1500-token stream that has delivered its first chunk; `rest()` reads it to the end and returns everything. */
export async function openStream(url: string): Promise<{ rest(): Promise<string> }> {
  const res = await fetch(`${url}/v1/completions`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify({ model: 'tiny-chat', prompt: 'The tide', max_tokens: 1500, temperature: 0, ignore_eos: true, stream: true }),
  });
  if (res.status !== 200) throw new Error(`stream refused: ${res.status} ${await res.text()}`);
  const reader = res.body!.getReader();
  const decoder = new TextDecoder();
  let text = decoder.decode((await reader.read()).value, { stream: true });
  return {
    async rest() {
      for (;;) {
        const { value, done } = await reader.read();
        if (done) return text;
        text += decoder.decode(value, { stream: true });
      }
    },
  };
}
