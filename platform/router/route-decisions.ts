import { Counter, type Registry } from 'prom-client';

export const ROUTE_REASONS = ['hot', 'warm', 'least_loaded', 'spread', 'retry', 'no_node'] as const;
export type RouteReason = (typeof ROUTE_REASONS)[number];

/** This replica's routing decisions since it started; replicas do not share them (see `/metrics` for a sum). */
export interface RoutingSummary {
  readonly since: Date;
  /** Every reason, zero included, so readers see the full set. */
  readonly decisions: Readonly<Record<RouteReason, number>>;
}

export interface RouteDecisions {
  count(reason: RouteReason): void;
  summary(): RoutingSummary;
}

/**
 * Counts routing decisions twice: in `tidepool_route_decisions_total{reason}` for Prometheus, and in plain
 * numbers that `GET /v1/cluster/nodes` reads synchronously without scraping its own registry.
 */
export function createRouteDecisions(registry: Registry, now: () => number = Date.now): RouteDecisions {
  const counter = new Counter({
    name: 'tidepool_route_decisions_total',
    help: 'Routing decisions by reason: hot, warm, least_loaded, spread, retry, no_node.',
    labelNames: ['reason'],
    registers: [registry],
  });
  const since = new Date(now());
  const counts = Object.fromEntries(ROUTE_REASONS.map((reason) => [reason, 0])) as Record<RouteReason, number>;
  return {
    count(reason) {
      counter.inc({ reason });
      counts[reason]++;
    },
    summary: () => ({ since, decisions: { ...counts } }),
  };
}
