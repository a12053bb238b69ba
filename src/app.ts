import { fileURLToPath } from 'node:url';
import express, { type Express } from 'express';
import helmet from 'helmet';
import type { Services } from './compose.js';
import { ping } from './core/db/database.js';
import { plainCookies } from './core/http/cookies.js';
import { csrfProtection } from './core/http/csrf.js';
import { databaseGate } from './core/http/database-gate.js';
import { errorHandler, notFound } from './core/http/error-handler.js';
import { healthRoutes } from './core/http/health.routes.js';
import { requestLogging } from './core/http/request-logging.js';
import { viewHelpers } from './core/http/view-helpers.js';
import { adminRoutes } from './admin/admin.routes.js';
import { refundAdminRoutes } from './admin/refund-admin.routes.js';
import { bookingRoutes } from './bookings/booking.routes.js';
import { doorRoutes } from './door/door.routes.js';
import { movieRoutes } from './movies/movie.routes.js';
import { callbackRoutes } from './payments/callback.routes.js';
import { refundResultRoutes } from './refunds/refund-results.js';

export const ROOT_DIR = fileURLToPath(new URL('..', import.meta.url));

/**
 * Builds the Express app from what buildServices made. Never listens: server.ts does, and tests use supertest.
 * Everything is mounted here, in the order a request meets it.
 */
export function createApp(s: Services): Express {
  const { config } = s;
  const app = express();
  const secure = config.publicBaseUrl.startsWith('https://');

  app.set('trust proxy', config.trustProxy);
  app.set('view engine', 'ejs');
  app.set('views', `${ROOT_DIR}views`);
  app.disable('x-powered-by');
  app.locals.helpers = viewHelpers;
  app.locals.appName = 'Tikiti';

  app.use(requestLogging(s.logger));
  app.use(helmet({
    contentSecurityPolicy: {
      useDefaults: true,
      directives: {
        'default-src': ["'self'"],
        'script-src': ["'self'"],
        'style-src': ["'self'"],
        // Posters may be https URLs (the movie form allows them); an image cannot run code, so this is all we open.
        'img-src': ["'self'", 'data:', 'https:'],
        'connect-src': ["'self'"],
        'form-action': ["'self'"],
        'frame-ancestors': ["'none'"],
        'upgrade-insecure-requests': secure ? [] : null,
      },
    },
    strictTransportSecurity: secure ? undefined : false,
  }));
  app.use(express.static(`${ROOT_DIR}public`, { maxAge: config.isProduction ? '1h' : 0, index: false }));
  app.use(healthRoutes({ ready: async () => s.databaseReady() && ping(s.database.db), dbCounters: s.config.dbCounters }));

  // Before the body parsers and CSRF: the simulator parses its own bodies, and the callback reads its raw body.
  // Before the database gate too: neither needs the database (a callback is spooled while it is away).
  if (s.simulator) app.use('/simulator', s.simulator.router);
  app.use(callbackRoutes({ intake: s.payments.intake, logger: s.logger.child({ component: 'payments' }) }));
  app.use(refundResultRoutes({ intake: s.refunds.results, logger: s.logger.child({ component: 'refunds' }) }));
  app.use(databaseGate(s.databaseReady));

  app.use(plainCookies());
  app.use(express.urlencoded({ extended: false, limit: '16kb', parameterLimit: 50 }));
  app.use(express.json({ limit: '64kb' }));
  app.use(csrfProtection({
    secret: s.csrfSecret,
    secure,
    // Protected otherwise: Basic-auth JSON for the admin API; the simulator has no session to steal.
    skip: (req) => req.path.startsWith('/admin/api/') || req.path.startsWith('/door/api/') || req.path.startsWith('/simulator'),
  }));

  app.use(movieRoutes({ movies: s.movies, maxTicketsPerBooking: config.maxTicketsPerBooking }));
  app.use(bookingRoutes({ bookings: s.bookings, limits: s.rateLimits, maxTicketsPerBooking: config.maxTicketsPerBooking }));
  app.use('/admin', adminRoutes({
    credentials: config.admin,
    loginLimiter: s.loginLimiter,
    context: { database: s.database, now: s.now },
    movies: s.movies,
    operator: s.operator,
    foreignSpooled: () => s.payments.intake.foreignSpooled(),
    refunds: refundAdminRoutes({ refunds: s.refunds.service }),
  }));

  app.use('/door', doorRoutes({
    // The door's own account, and the admin's: an operator can always work the door.
    accounts: [config.door, config.admin].filter((a) => a !== undefined),
    loginLimiter: s.loginLimiter,
    door: s.door,
  }));

  app.use(notFound);
  app.use(errorHandler);
  return app;
}
