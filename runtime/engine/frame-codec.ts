/**
 * Framing for the engine socket (docs/engine-protocol.md): a 4-byte unsigned little-endian payload length
 * N (1 ≤ N ≤ 64 MiB), then N bytes of one UTF-8 JSON object. Both directions use the same framing.
 */

/** The protocol's limit on one payload, in bytes. */
export const MAX_FRAME_BYTES = 64 * 1024 * 1024;

const HEADER_BYTES = 4;

export class FrameError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'FrameError';
  }
}

/** Encodes one JSON object as a frame. Throws `FrameError` when the payload is empty or over the limit. */
export function encodeFrame(message: object, maxFrameBytes: number = MAX_FRAME_BYTES): Buffer {
  const payload = Buffer.from(JSON.stringify(message), 'utf8');
  if (payload.length < 1 || payload.length > maxFrameBytes) {
    throw new FrameError(`frame payload of ${payload.length} bytes is outside 1..${maxFrameBytes}`);
  }
  const frame = Buffer.allocUnsafe(HEADER_BYTES + payload.length);
  frame.writeUInt32LE(payload.length, 0);
  payload.copy(frame, HEADER_BYTES);
  return frame;
}

/**
 * Incremental decoder: feed it socket chunks of any size and it returns the complete messages they finish.
 * After a `FrameError` (bad length or malformed JSON) the stream is unusable; the protocol closes the
 * connection, so the decoder stays failed rather than trying to resynchronise.
 */
export class FrameDecoder {
  private chunks: Buffer[] = [];
  private buffered = 0;
  private failed: FrameError | undefined;

  constructor(private readonly maxFrameBytes: number = MAX_FRAME_BYTES) {}

  /** Bytes received but not yet part of a complete frame. */
  get pendingBytes(): number {
    return this.buffered;
  }

  push(chunk: Buffer): unknown[] {
    if (this.failed) throw this.failed;
    if (chunk.length > 0) {
      this.chunks.push(chunk);
      this.buffered += chunk.length;
    }
    const messages: unknown[] = [];
    for (;;) {
      const message = this.next();
      if (message === undefined) return messages;
      messages.push(message);
    }
  }

  private next(): unknown {
    if (this.buffered < HEADER_BYTES) return undefined;
    const length = this.peekLength();
    if (length < 1 || length > this.maxFrameBytes) {
      return this.fail(`frame length ${length} is outside 1..${this.maxFrameBytes}`);
    }
    if (this.buffered < HEADER_BYTES + length) return undefined;
    const payload = this.take(HEADER_BYTES + length).subarray(HEADER_BYTES);
    let message: unknown;
    try {
      message = JSON.parse(payload.toString('utf8'));
    } catch (error) {
      return this.fail(`malformed JSON in frame: ${(error as Error).message}`);
    }
    if (message === null || typeof message !== 'object' || Array.isArray(message)) {
      return this.fail('frame payload is not a JSON object');
    }
    return message;
  }

  private peekLength(): number {
    const first = this.chunks[0]!;
    if (first.length >= HEADER_BYTES) return first.readUInt32LE(0);
    this.chunks = [Buffer.concat(this.chunks)];
    return this.chunks[0]!.readUInt32LE(0);
  }

  /** Removes `count` bytes from the front; concatenates only when a frame spans chunks. */
  private take(count: number): Buffer {
    const first = this.chunks[0]!;
    let out: Buffer;
    if (first.length >= count) {
      out = first.subarray(0, count);
      if (first.length === count) this.chunks.shift();
      else this.chunks[0] = first.subarray(count);
    } else {
      const all = Buffer.concat(this.chunks);
      out = all.subarray(0, count);
      this.chunks = all.length > count ? [all.subarray(count)] : [];
    }
    this.buffered -= count;
    return out;
  }

  private fail(message: string): never {
    this.failed = new FrameError(message);
    this.chunks = [];
    this.buffered = 0;
    throw this.failed;
  }
}
