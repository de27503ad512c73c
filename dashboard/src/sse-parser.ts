/** One Server-Sent Event: its `event:` name (`message` when absent) and its `data:` lines joined. */
export interface SseMessage {
  readonly event: string;
  readonly data: string;
}

/**
 * Incremental SSE parser for a response read with fetch: chunks may split lines or events anywhere, so it
 * keeps the unfinished tail. Comments (`: keepalive`) and `id:`/`retry:` fields are ignored.
 */
export class SseParser {
  private buffer = '';

  push(chunk: string): SseMessage[] {
    this.buffer += chunk.replace(/\r\n?/g, '\n');
    const out: SseMessage[] = [];
    let boundary: number;
    while ((boundary = this.buffer.indexOf('\n\n')) >= 0) {
      const block = this.buffer.slice(0, boundary);
      this.buffer = this.buffer.slice(boundary + 2);
      let event = 'message';
      const data: string[] = [];
      for (const line of block.split('\n')) {
        if (line.startsWith('event:')) event = line.slice(6).trim();
        else if (line.startsWith('data:')) data.push(line.slice(5).replace(/^ /, ''));
      }
      if (data.length > 0) out.push({ event, data: data.join('\n') });
    }
    return out;
  }
}
