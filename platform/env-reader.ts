/**
 * Reads one environment variable at a time as a typed value (string, integer, byte count with units, URL,
 * device list), recording each problem instead of throwing, so `loadConfig` reports every problem at once.
 * Apart from `config.ts` because it knows how values are written, not which variables exist.
 */

const GiB = 2 ** 30;
const MiB = 2 ** 20;

/** Byte-size suffixes, matched case-insensitively. */
export const BYTE_UNITS: Readonly<Record<string, number>> = {
  '': 1,
  b: 1,
  kb: 1e3,
  mb: 1e6,
  gb: 1e9,
  tb: 1e12,
  kib: 2 ** 10,
  mib: MiB,
  gib: GiB,
  tib: 2 ** 40,
};

/** Parses variables, recording a problem instead of throwing so one pass finds them all. */
export class EnvReader {
  readonly problems: string[] = [];

  constructor(private readonly env: Readonly<Record<string, string | undefined>>) {}

  /** Trimmed; an empty string counts as unset, as Kubernetes manifests and compose files often produce them. */
  optionalString(name: string): string | undefined {
    const value = this.env[name]?.trim();
    return value === undefined || value === '' ? undefined : value;
  }

  string(name: string, fallback: string): string {
    return this.optionalString(name) ?? fallback;
  }

  /** `all` (or unset), or distinct device ordinals separated by commas: `0,1,3`. */
  deviceList(name: string): readonly number[] | 'all' {
    const value = this.optionalString(name);
    if (value === undefined || value === 'all') return 'all';
    const parts = value.split(',').map((part) => part.trim());
    const ordinals = parts.map(Number);
    if (!parts.every((part) => /^\d+$/.test(part)) || new Set(ordinals).size !== ordinals.length) {
      return this.fail(name, `must be "all" or distinct device ordinals such as 0,1, got "${value}"`, 'all');
    }
    return Object.freeze(ordinals);
  }

  integer(name: string, fallback: number, min: number, max = Number.MAX_SAFE_INTEGER): number {
    const value = this.optionalString(name);
    if (value === undefined) return fallback;
    const parsed = Number(value);
    if (!/^-?\d+$/.test(value) || !Number.isSafeInteger(parsed)) return this.fail(name, `must be an integer, got "${value}"`, fallback);
    if (parsed < min || parsed > max) return this.fail(name, `must be between ${min} and ${max}, got ${parsed}`, fallback);
    return parsed;
  }

  /** A plain integer or a number with a unit: `1048576`, `512MiB`, `8GiB`, `2GB`. */
  optionalBytes(name: string, min = 1): number | undefined {
    const value = this.optionalString(name);
    if (value === undefined) return undefined;
    const match = /^(\d+(?:\.\d+)?)\s*([a-z]*)$/i.exec(value);
    const unit = match ? BYTE_UNITS[match[2]!.toLowerCase()] : undefined;
    if (!match || unit === undefined) return this.fail(name, `must be a byte count such as 1048576, 512MiB or 8GiB, got "${value}"`, undefined);
    const bytes = Math.floor(Number(match[1]) * unit);
    if (!Number.isSafeInteger(bytes)) return this.fail(name, `is too large: "${value}"`, undefined);
    if (bytes < min) return this.fail(name, `must be at least ${min} bytes, got "${value}"`, undefined);
    return bytes;
  }

  bytes(name: string, fallback: number): number {
    return this.optionalBytes(name) ?? fallback;
  }

  /** A string that must match `pattern`; `shape` says in words what it must look like. */
  optionalMatch(name: string, pattern: RegExp, shape: string): string | undefined {
    const value = this.optionalString(name);
    if (value === undefined || pattern.test(value)) return value;
    return this.fail(name, `must be ${shape}, got "${value}"`, undefined);
  }

  boolean(name: string, fallback: boolean): boolean {
    const value = this.optionalString(name);
    if (value === undefined) return fallback;
    if (/^(true|1|yes|on)$/i.test(value)) return true;
    if (/^(false|0|no|off)$/i.test(value)) return false;
    return this.fail(name, `must be true or false, got "${value}"`, fallback);
  }

  oneOf<T extends string>(name: string, allowed: readonly T[], fallback: T): T {
    const value = this.optionalString(name);
    if (value === undefined) return fallback;
    if ((allowed as readonly string[]).includes(value)) return value as T;
    return this.fail(name, `must be one of ${allowed.join(', ')}, got "${value}"`, fallback);
  }

  /** A URL with one of `protocols` (each with its colon). Passwords never appear in problems. */
  optionalUrl(name: string, protocols: readonly string[]): string | undefined {
    const value = this.optionalString(name);
    if (value === undefined) return undefined;
    let url: URL;
    try {
      url = new URL(value);
    } catch {
      return this.fail(name, `must be a URL, got "${value.replace(/\/\/[^@/]*@/, '//***@')}"`, undefined);
    }
    if (!protocols.includes(url.protocol)) {
      return this.fail(name, `must start with ${protocols.map((p) => `${p}//`).join(' or ')}, got "${url.protocol}//"`, undefined);
    }
    return value;
  }

  /** Records a problem that involves more than one variable. */
  problem(message: string): void {
    this.problems.push(message);
  }

  private fail<T>(name: string, message: string, fallback: T): T {
    this.problems.push(`${name} ${message}`);
    return fallback;
  }
}
