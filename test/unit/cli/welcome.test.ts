import { describe, expect, it } from 'vitest';
import { welcomeText } from '../../../cli/commands/up.js';

// What `tidepool up` prints when ready: examples that work as printed, with a key header once keys are in
// use (a key-less request then gets 401).
describe('tidepool up welcome', () => {
  it('prints key-less examples in open mode', () => {
    const text = welcomeText('http://127.0.0.1:8080', 'cpu', ['tiny-chat', 'tiny-qwen'], false);
    expect(text).toContain(`curl http://127.0.0.1:8080/v1/chat/completions -H 'Content-Type: application/json' \\\n`);
    expect(text).toContain(`apiKey: 'unused'`);
    expect(text).not.toContain('Authorization');
  });

  it('sends $TIDEPOOL_API_KEY in both examples when keys exist', () => {
    const text = welcomeText('http://127.0.0.1:8080', 'cpu', ['tiny-chat'], true);
    expect(text).toContain(`-H 'Content-Type: application/json' -H "Authorization: Bearer $TIDEPOOL_API_KEY" \\\n`);
    expect(text).toContain('apiKey: process.env.TIDEPOOL_API_KEY');
    expect(text).toContain('API keys are in use: set TIDEPOOL_API_KEY');
  });
});
