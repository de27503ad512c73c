import { describe, expect, it } from 'vitest';
import { FrameDecoder, FrameError, MAX_FRAME_BYTES, encodeFrame } from '../../../runtime/engine/frame-codec.js';

function header(length: number): Buffer {
  const buffer = Buffer.alloc(4);
  buffer.writeUInt32LE(length, 0);
  return buffer;
}

describe('frame codec', () => {
  it('round-trips a message with a little-endian length prefix', () => {
    const frame = encodeFrame({ op: 'hello', id: 1 });
    const payload = JSON.stringify({ op: 'hello', id: 1 });
    expect(frame.readUInt32LE(0)).toBe(Buffer.byteLength(payload));
    expect(new FrameDecoder().push(frame)).toEqual([{ op: 'hello', id: 1 }]);
  });

  it('reassembles frames split at every byte, including inside the header', () => {
    const frames = Buffer.concat([encodeFrame({ a: 'é😀' }), encodeFrame({ b: [1, 2, 3] })]);
    const decoder = new FrameDecoder();
    const seen: unknown[] = [];
    for (let i = 0; i < frames.length; i++) seen.push(...decoder.push(frames.subarray(i, i + 1)));
    expect(seen).toEqual([{ a: 'é😀' }, { b: [1, 2, 3] }]);
    expect(decoder.pendingBytes).toBe(0);
  });

  it('returns several messages from one chunk and keeps the partial tail', () => {
    const one = encodeFrame({ n: 1 });
    const two = encodeFrame({ n: 2 });
    const three = encodeFrame({ n: 3 });
    const decoder = new FrameDecoder();
    expect(decoder.push(Buffer.concat([one, two, three.subarray(0, 6)]))).toEqual([{ n: 1 }, { n: 2 }]);
    expect(decoder.pendingBytes).toBe(6);
    expect(decoder.push(three.subarray(6))).toEqual([{ n: 3 }]);
  });

  it('rejects an oversize length as soon as the header arrives, without buffering the payload', () => {
    const decoder = new FrameDecoder();
    expect(() => decoder.push(header(MAX_FRAME_BYTES + 1))).toThrow(FrameError);
    // The stream stays failed: the protocol closes the connection after a bad frame.
    expect(() => decoder.push(encodeFrame({ ok: true }))).toThrow(FrameError);
  });

  it('rejects a zero length and malformed or non-object JSON', () => {
    expect(() => new FrameDecoder().push(header(0))).toThrow(/outside/);
    const bad = Buffer.from('{nope');
    expect(() => new FrameDecoder().push(Buffer.concat([header(bad.length), bad]))).toThrow(/malformed JSON/);
    const array = Buffer.from('[1]');
    expect(() => new FrameDecoder().push(Buffer.concat([header(array.length), array]))).toThrow(/not a JSON object/);
  });

  it('refuses to encode a payload over the limit', () => {
    expect(() => encodeFrame({ big: 'x'.repeat(100) }, 64)).toThrow(FrameError);
  });

  it('accepts a frame of exactly the limit', () => {
    const message = { s: 'x'.repeat(50) };
    const size = Buffer.byteLength(JSON.stringify(message));
    const decoder = new FrameDecoder(size);
    expect(decoder.push(encodeFrame(message, size))).toEqual([message]);
  });
});
