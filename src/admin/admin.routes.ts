import { Router } from 'express';
import type { AppDeps } from '../app.js';
import { basicAuth } from '../core/http/basic-auth.js';
import { AppError } from '../core/errors.js';

/** The operator area. Off (404) until ADMIN_USER and ADMIN_PASSWORD are both set. */
export function adminRoutes(deps: AppDeps): Router {
  const router = Router();
  router.use(basicAuth(deps.config.admin));

  router.post('/api/movies', async (req, res) => {
    if (!req.is('application/json')) {
      throw new AppError('UNSUPPORTED_MEDIA_TYPE', 'admin API takes JSON', {
        status: 415,
        publicMessage: 'Send the movie as JSON (Content-Type: application/json).',
      });
    }
    const movieId = await deps.services.movies.create(req.body);
    res.status(201).json({ movieId });
  });

  router.get('/', (_req, res) => {
    res.render('admin/home', { title: 'Admin' });
  });

  return router;
}

