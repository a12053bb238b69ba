import { Router } from 'express';
import type { AppDeps } from '../app.js';

/** Catalogue pages and the public JSON list. */
export function movieRoutes(deps: AppDeps): Router {
  const router = Router();
  const { movies } = deps.services;

  router.get('/', async (_req, res) => {
    res.render('movies/index', { title: 'Now showing', movies: await movies.nowShowing() });
  });

  router.get('/movies/:movieId', async (req, res) => {
    const movie = await movies.get(Number(req.params.movieId));
    res.render('movies/show', {
      title: movie.title,
      movie,
      values: { quantity: '1' },
      errors: {},
      formError: undefined,
      maxTickets: Math.min(deps.config.maxTicketsPerBooking, Math.max(movie.ticketsLeft, 1)),
    });
  });

  router.get('/api/movies', async (_req, res) => {
    const list = await movies.nowShowing();
    res.json(
      list.map((m) => ({
        movieId: m.movieId,
        title: m.title,
        description: m.description,
        showTime: m.showTime,
        price: m.price,
        maximumTickets: m.maximumTickets,
        ticketsLeft: m.ticketsLeft,
        imageUrl: m.imageUrl,
      })),
    );
  });

  return router;
}
