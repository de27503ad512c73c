import { createHash, timingSafeEqual } from 'node:crypto';

/**
 * The shared cluster token (`TIDEPOOL_CLUSTER_TOKEN`) that nodes and control-plane replicas send each other as
 * `Authorization: Bearer <token>`. Compared as hashes in constant time.
 */
export function bearerMatches(header: string | undefined, token: string): boolean {
  const given = header?.startsWith('Bearer ') ? header.slice(7).trim() : '';
  if (!given) return false;
  return timingSafeEqual(createHash('sha256').update(given).digest(), createHash('sha256').update(token).digest());
}

export function bearer(token: string): Record<string, string> {
  return { Authorization: `Bearer ${token}` };
}
