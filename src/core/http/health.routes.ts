import { Router } from 'express';
import { readDbCounters } from '../db/counters.js';

/** Liveness (the process answers) and readiness (the database answers too, so a load balancer stops sending traffic). */
export function healthRoutes(deps: { ready: () => Promise<boolean>; dbCounters?: boolean }): Router {
  const router = Router();
  router.get('/healthz', (_req, res) => {
    res.json({ status: 'ok' });
  });
  router.get('/readyz', async (_req, res) => {
    const ok = await deps.ready();
    res.status(ok ? 200 : 503).json({ status: ok ? 'ready' : 'database unavailable' });
  });
  // DB_COUNTERS=on: what this process has sent to the database so far (core/db/counters.ts), for the benchmark.
  if (deps.dbCounters) router.get('/healthz/db-counters', (_req, res) => {
    res.json(readDbCounters());
  });
  return router;
}
