import { describe, expect, it } from 'vitest';
import { HTTP_STATUS } from '../../../protocol/error-status.js';
import { ERROR_CODES } from '../../../protocol/errors.js';
import { sequenceError } from '../../../runtime/engine/engine-wire.js';

describe('a failed sequence as the engine reports it', () => {
  it('takes the code from its code field and never from the message text', () => {
    expect(sequenceError({ code: 'bad_model', message: 'load: truncated' })).toMatchObject({ code: 'bad_model', message: 'load: truncated' });
    expect(sequenceError({ code: 'device_lost', message: 'device_lost: cudaErrorIllegalAddress' })).toMatchObject({ code: 'device_lost' });
    expect(sequenceError({ message: 'context_overflow: prompt + max_tokens = 9000 exceeds the context of 8192' })).toMatchObject({ code: 'internal' });
    expect(sequenceError({ code: 'no_such_code', message: 'x' })).toMatchObject({ code: 'internal' });
    expect(sequenceError({ message: 'forward failed: cuda error' })).toMatchObject({ code: 'internal', message: 'forward failed: cuda error' });
    expect(sequenceError({})).toMatchObject({ code: 'internal', message: 'sequence failed' });
  });

  it('every error code has one HTTP status', () => {
    for (const code of ERROR_CODES) expect(HTTP_STATUS[code], code).toBeGreaterThanOrEqual(400);
  });
});
