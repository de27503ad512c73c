import type { Command } from 'commander';
import { createApiClient, sseData } from '../api-client.js';
import { CliError } from '../cli-error.js';
import { printJson } from '../output.js';

interface InvokeOptions {
  json?: boolean;
  chat?: boolean;
  maxTokens?: string;
  temperature?: string;
  seed?: string;
  stop?: string[];
}

function body(prompt: string, opts: InvokeOptions, stream: boolean): Record<string, unknown> {
  const num = (v: string | undefined, flag: string): number | undefined => {
    if (v === undefined) return undefined;
    const n = Number(v);
    if (!Number.isFinite(n)) throw new CliError(`${flag}: ${v} is not a number`);
    return n;
  };
  return {
    ...(opts.chat ? { messages: [{ role: 'user', content: prompt }] } : { prompt }),
    max_tokens: num(opts.maxTokens, '--max-tokens'),
    temperature: num(opts.temperature, '--temperature'),
    seed: num(opts.seed, '--seed'),
    stop: opts.stop,
    stream,
  };
}

export function registerInvoke(command: Command): void {
  command
    .argument('<fn>', 'function name')
    .argument('<prompt>', 'prompt text')
    .option('--chat', 'send the prompt as a user chat message (applies the chat template)')
    .option('--max-tokens <n>', 'most tokens to generate')
    .option('--temperature <t>', 'sampling temperature; 0 is greedy')
    .option('--seed <n>', 'sampling seed')
    .option('--stop <text...>', 'stop strings')
    .option('--json', 'wait for the whole answer and print it as JSON')
    .action(async (name: string, prompt: string, opts: InvokeOptions) => {
      const api = createApiClient();
      const path = `/v1/functions/${encodeURIComponent(name)}/invoke`;
      if (opts.json) return printJson(await api.json('POST', path, body(prompt, opts, false)));
      const res = await api.raw('POST', path, { body: JSON.stringify(body(prompt, opts, true)), headers: { 'Content-Type': 'application/json' } });
      let finish = '';
      for await (const event of sseData(res)) {
        if (event.error) throw new CliError(`generation failed: ${(event.error as { message: string }).message}`);
        if (event.type === 'token') process.stdout.write(String(event.text));
        if (event.type === 'done') {
          const usage = event.usage as { prompt_tokens: number; completion_tokens: number };
          finish = `[${String(event.finish_reason)}, ${usage.prompt_tokens} prompt + ${usage.completion_tokens} completion tokens]`;
        }
      }
      process.stdout.write('\n');
      if (finish && process.stderr.isTTY) process.stderr.write(`${finish}\n`);
    });
}
