import { Router } from 'express';
import { NotFoundError } from '../core/errors.js';
import type { MovieService } from './movie.service.js';

/** Catalogue pages and the public JSON list. */
export function movieRoutes(deps: { movies: MovieService; maxTicketsPerBooking: number }): Router {
  const router = Router();
  const { movies } = deps;

  router.get('/', async (_req, res) => {
    res.render('movies/index', { title: 'Now showing', movies: await movies.nowShowing() });
  });

  router.get('/movies/:movieId', async (req, res) => {
    const r = await movies.get(Number(req.params.movieId));
    if (!r.ok) throw new NotFoundError('movie');
    const movie = r.value;
    res.render('movies/show', {
      title: movie.title,
      movie,
      values: { quantity: '1' },
      errors: {},
      formError: undefined,
      maxTickets: Math.min(deps.maxTicketsPerBooking, Math.max(movie.ticketsLeft, 1)),
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
