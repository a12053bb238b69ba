import { createRequire } from 'node:module';
import { dirname } from 'node:path';
import express, { Router, type Response } from 'express';
import { z } from 'zod';
import { basicAuth, type Account } from '../core/http/basic-auth.js';
import type { LoginLimiter } from '../core/http/login-limiter.js';
import { normaliseTicketCode } from '../bookings/ticket-code.js';
import type { DoorService } from './door.service.js';

export interface DoorRoutesDeps {
  /** DOOR_USER/DOOR_PASSWORD and ADMIN_USER/ADMIN_PASSWORD, whichever are set; none: /door does not exist (404). */
  accounts: Account[];
  loginLimiter: LoginLimiter;
  door: DoorService;
}

// jsQR reads QR codes from camera frames where the browser has no BarcodeDetector (Chromium on Linux, Firefox, older
// Safari). It is served from this site, from the installed package, so no request leaves the site and the CSP stays.
const JSQR_DIR = dirname(createRequire(import.meta.url).resolve('jsqr'));

const checkin = z.object({
  movieId: z.coerce.number().int().positive(),
  ticketCode: z.string().max(20),
  admit: z.coerce.number().int().min(1).max(1000).optional(),
});

const refuse = (res: Response, status: number, error: string, message: string) => res.status(status).json({ error, message });

/**
 * /door: the page door staff use on a phone, and its JSON API (Basic auth; JSON only, so no CSRF token: a cross-site
 * form cannot send application/json without a CORS preflight we never answer).
 */
export function doorRoutes(deps: DoorRoutesDeps): Router {
  const router = Router();
  router.use(basicAuth({ accounts: deps.accounts, realm: 'Tikiti door', limiter: deps.loginLimiter }));
  router.use((_req, res, next) => {
    res.setHeader('Cache-Control', 'no-store');
    res.setHeader('X-Robots-Tag', 'noindex, nofollow');
    next();
  });
  router.use('/assets/jsqr', express.static(JSQR_DIR, { index: false }));

  router.get('/', async (req, res) => {
    const shows = await deps.door.shows();
    const picked = Number(req.query.movieId);
    const show = shows.find((s) => s.movieId === picked) ?? (shows.length === 1 ? shows[0] : undefined);
    res.render('door/index', { title: 'Door', shows, show, doorUser: String(res.locals.adminUser ?? '') });
  });

  router.get('/api/tickets/:code', async (req, res) => {
    const code = normaliseTicketCode(req.params.code);
    const movieId = Number(req.query.movieId);
    const t = code ? await deps.door.lookup(code, Number.isSafeInteger(movieId) ? movieId : 0) : undefined;
    if (!t) return refuse(res, 404, 'not_found', 'No ticket has this code. Check it with the customer, letter by letter.');
    res.json(t);
  });

  router.post('/api/checkins', async (req, res) => {
    if (!req.is('application/json')) return refuse(res, 415, 'unsupported_media_type', 'Send the check-in as JSON (Content-Type: application/json).');
    const parsed = checkin.safeParse(req.body ?? {});
    if (!parsed.success) {
      return refuse(res, 400, 'invalid', 'Send {"movieId": a show id, "ticketCode": the 8-character code, "admit": how many people (optional, default all not yet in)}.');
    }
    const code = normaliseTicketCode(parsed.data.ticketCode);
    if (!code) return refuse(res, 404, 'not_found', 'No ticket has this code: a code is 8 letters and digits.');
    const by = String(res.locals.adminUser ?? 'door');
    const r = await deps.door.admit({ ticketCode: code, movieId: parsed.data.movieId, n: parsed.data.admit, by });
    if (r.ok) return res.json(r.value);
    if (r.error.kind === 'not_found') return refuse(res, 404, 'not_found', 'No ticket has this code. Check it with the customer, letter by letter.');
    refuse(res, 409, r.error.error, r.error.message);
  });

  return router;
}
