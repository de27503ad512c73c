import type { WireArtifact } from '../../protocol/internal-generate.js';
import type { Artifact, WarmHoldTarget } from '../../protocol/node-runtime.js';
import { isWeightsDigest, type WeightsDigest } from '../../protocol/weights-digest.js';

/** The body of `POST /internal/hold-warm`: `artifact` null releases the function's hold. */
export interface HoldWarmRequest {
  readonly functionName: string;
  readonly artifact: Artifact | undefined;
  readonly keepWarmMs: number;
}

/** Thrown for a body the node cannot act on; the server answers 400 with the message. */
export class HoldWarmRequestError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'HoldWarmRequestError';
  }
}

/**
 * Checks a hold-warm body field by field, naming the first bad one. The control plane is trusted (it holds
 * the cluster token), but a malformed artifact would otherwise surface minutes later as a failed fetch.
 */
export function parseHoldWarmRequest(text: string): HoldWarmRequest {
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    throw new HoldWarmRequestError('body must be JSON');
  }
  if (typeof body !== 'object' || body === null) throw new HoldWarmRequestError('body must be a JSON object');
  const { functionName, artifact, keepWarmMs } = body as Record<string, unknown>;
  if (typeof functionName !== 'string' || functionName === '') throw new HoldWarmRequestError('functionName must be a non-empty string');
  if (typeof keepWarmMs !== 'number' || !Number.isSafeInteger(keepWarmMs) || keepWarmMs < 0) {
    throw new HoldWarmRequestError('keepWarmMs must be a non-negative integer');
  }
  if (artifact === null || artifact === undefined) return { functionName, artifact: undefined, keepWarmMs };
  return { functionName, artifact: parseArtifact(artifact), keepWarmMs };
}

/**
 * Checks the body of `PUT /internal/warm-holds`, `{ holds: [{ functionName, artifact, keepWarmMs }] }`: the
 * whole set of holds the node should have. Each entry is checked as a hold-warm body whose artifact is set;
 * a function listed twice is refused, since the set could not say which artifact it wants.
 */
export function parseWarmHoldSet(text: string): readonly WarmHoldTarget[] {
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    throw new HoldWarmRequestError('body must be JSON');
  }
  const holds = (body as { holds?: unknown } | null)?.holds;
  if (!Array.isArray(holds)) throw new HoldWarmRequestError('holds must be an array');
  const seen = new Set<string>();
  return holds.map((entry: unknown, i) => {
    let hold: HoldWarmRequest;
    try {
      hold = parseHoldWarmRequest(JSON.stringify(entry ?? null));
    } catch (error) {
      throw new HoldWarmRequestError(`holds[${i}]: ${(error as Error).message}`);
    }
    if (!hold.artifact) throw new HoldWarmRequestError(`holds[${i}]: artifact must be set (leave a function out to release it)`);
    if (seen.has(hold.functionName)) throw new HoldWarmRequestError(`holds[${i}]: function ${hold.functionName} is listed twice`);
    seen.add(hold.functionName);
    return { functionName: hold.functionName, artifact: hold.artifact, keepWarmMs: hold.keepWarmMs };
  });
}

/** The artifact's wire form (`WireArtifact`): its weights digest is `digest` there. */
function parseArtifact(value: unknown): Artifact {
  const a = value as Partial<Record<keyof WireArtifact, unknown>>;
  if (typeof value !== 'object' || !isWeightsDigest(a.digest)) {
    throw new HoldWarmRequestError('artifact.digest must be a weights digest, sha256:<64 hex digits> (or artifact null to release)');
  }
  if (typeof a.bytes !== 'number' || !Number.isSafeInteger(a.bytes) || a.bytes < 0)
    throw new HoldWarmRequestError('artifact.bytes must be a non-negative integer');
  if (!Array.isArray(a.files)) throw new HoldWarmRequestError('artifact.files must be an array');
  a.files.forEach((file: unknown, i) => {
    const f = file as Record<string, unknown> | null;
    if (typeof f?.name !== 'string' || typeof f.digest !== 'string' || typeof f.size !== 'number') {
      throw new HoldWarmRequestError(`artifact.files[${i}] must have a string name, a string digest and a numeric size`);
    }
  });
  const { digest, ...rest } = value as WireArtifact;
  return { weightsDigest: digest as WeightsDigest, ...rest }; // checked by isWeightsDigest above
}
