import { Router } from 'express';

/** Liveness (the process answers) and readiness (the database answers too, so a load balancer stops sending traffic). */
export function healthRoutes(deps: { ready: () => Promise<boolean> }): Router {
  const router = Router();
  router.get('/healthz', (_req, res) => {
    res.json({ status: 'ok' });
  });
  router.get('/readyz', async (_req, res) => {
    const ok = await deps.ready();
    res.status(ok ? 200 : 503).json({ status: ok ? 'ready' : 'database unavailable' });
  });
  return router;
}
