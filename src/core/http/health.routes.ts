import { Router } from 'express';
import type { AppDeps } from '../../app.js';
import { ping } from '../db/database.js';

export function healthRoutes(deps: AppDeps): Router {
  const router = Router();
  // Liveness: the process answers. Readiness: the database answers too (a load balancer stops sending traffic).
  router.get('/healthz', (_req, res) => {
    res.json({ status: 'ok' });
  });
  router.get('/readyz', async (_req, res) => {
    const ok = await ping(deps.database.db);
    res.status(ok ? 200 : 503).json({ status: ok ? 'ready' : 'database unavailable' });
  });
  return router;
}
