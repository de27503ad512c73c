import type { Command } from 'commander';
import { createApiClient } from '../api-client.js';
import { CliError } from '../cli-error.js';
import { printJson, table } from '../output.js';

interface KeyBody {
  readonly id: string;
  readonly name: string;
  readonly scopes: readonly string[];
  readonly functions: readonly string[] | null;
  readonly rpm: number | null;
  readonly tpm: number | null;
  readonly concurrency: number | null;
  readonly created_at: string;
  readonly revoked_at: string | null;
}

/** `tidepool keys create|ls|revoke`: API keys (admin scope needed, or open local mode for the first one). */
export function registerKeys(keys: Command): void {
  keys
    .command('create')
    .description('create an API key; the key is printed once and cannot be shown again')
    .requiredOption('--name <name>', 'a label for the key')
    .requiredOption('--scope <scope>', 'admin or invoke')
    .option('--functions <list>', 'invoke keys only: comma-separated function names the key may see and call')
    .option('--rpm <n>', 'at most n requests per minute (default: unlimited)')
    .option('--tpm <n>', 'at most n tokens per minute, prompt + completion (default: unlimited)')
    .option('--concurrency <n>', 'at most n requests in flight at once (default: unlimited)')
    .option('--json', 'print the key and its record as JSON')
    .action(async (opts: { name: string; scope: string; functions?: string; rpm?: string; tpm?: string; concurrency?: string; json?: boolean }) => {
      if (opts.scope !== 'admin' && opts.scope !== 'invoke') throw new CliError(`--scope must be admin or invoke, not ${opts.scope}`);
      const functions = opts.functions
        ?.split(',')
        .map((f) => f.trim())
        .filter(Boolean);
      const limits = { rpm: limitOption('--rpm', opts.rpm), tpm: limitOption('--tpm', opts.tpm), concurrency: limitOption('--concurrency', opts.concurrency) };
      const body = await createApiClient().json<KeyBody & { key: string }>('POST', '/v1/keys', { name: opts.name, scope: opts.scope, functions, ...limits });
      if (opts.json) return printJson(body);
      console.log(
        `created ${body.scopes.join(',')} key ${body.name} (id ${body.id})${body.functions ? ` for ${body.functions.join(', ')}` : ''}; limits: ${limitsText(body)}`,
      );
      console.log(`key: ${body.key}`);
      console.log('This is the only time the key is shown; store it now (send it as Authorization: Bearer <key>).');
    });
  keys
    .command('ls')
    .description('list API keys (never the keys themselves)')
    .option('--json', 'print the list as JSON')
    .action(async (opts: { json?: boolean }) => {
      const body = await createApiClient().json<{ data: KeyBody[] }>('GET', '/v1/keys');
      if (opts.json) return printJson(body.data);
      if (body.data.length === 0) return console.log('no API keys (create one: tidepool keys create --name admin --scope admin)');
      const limit = (n: number | null) => (n === null ? '-' : String(n));
      const rows = body.data.map((k) => [
        k.id,
        k.name,
        k.scopes.join(','),
        k.functions?.join(',') ?? '*',
        limit(k.rpm),
        limit(k.tpm),
        limit(k.concurrency),
        k.created_at,
        k.revoked_at ?? '-',
      ]);
      console.log(table([['ID', 'NAME', 'SCOPE', 'FUNCTIONS', 'RPM', 'TPM', 'CONCURRENCY', 'CREATED', 'REVOKED'], ...rows]));
    });
  keys
    .command('revoke')
    .description('revoke an API key; requests with it get 401 from then on')
    .argument('<id>', 'key id (from tidepool keys ls)')
    .option('--json', 'print the result as JSON')
    .action(async (id: string, opts: { json?: boolean }) => {
      const body = await createApiClient().json<{ id: string; revoked: boolean }>('DELETE', `/v1/keys/${encodeURIComponent(id)}`);
      if (opts.json) return printJson(body);
      console.log(`revoked ${body.id}`);
    });
}

/** A limit flag: a positive integer, or absent for unlimited (the server checks the upper bound). */
function limitOption(flag: string, value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  if (!/^[1-9][0-9]*$/.test(value.trim())) throw new CliError(`${flag} must be a positive integer, not ${value}`);
  return Number(value.trim());
}

function limitsText(key: Pick<KeyBody, 'rpm' | 'tpm' | 'concurrency'>): string {
  const parts = [
    key.rpm !== null ? `${key.rpm} rpm` : '',
    key.tpm !== null ? `${key.tpm} tpm` : '',
    key.concurrency !== null ? `${key.concurrency} concurrent` : '',
  ];
  return parts.filter(Boolean).join(', ') || 'none';
}
