// Weights digests for tests. Layers inside a process take a `WeightsDigest` as given (only text coming in from
// outside is checked), so a test may name its models 'a', 'b' or a constant and brand the name as is; a test
// whose digest crosses a checked boundary (HTTP, the database, a manifest) uses `realDigest`.
import { createHash } from 'node:crypto';
import type { WeightsDigest } from '../../protocol/weights-digest.js';

/** A test's model name standing for a weights digest, unchecked. */
export function digest(name: string): WeightsDigest {
  return name as WeightsDigest;
}

/** A weights digest of the real form (`sha256:<64 hex>`), derived from `seed`. */
export function realDigest(seed: string): WeightsDigest {
  return `sha256:${createHash('sha256').update(seed).digest('hex')}` as WeightsDigest;
}
