import { fileURLToPath } from 'node:url';
import express, { type Express, type Router } from 'express';
import cookieParser from 'cookie-parser';
import helmet from 'helmet';
import type { Config } from './core/config.js';
import type { DatabaseHandle } from './core/db/database.js';
import { csrfProtection } from './core/http/csrf.js';
import { errorHandler, notFound } from './core/http/error-handler.js';
import { requestLogging } from './core/http/request-logging.js';
import type { Logger } from './core/logger.js';
import { healthRoutes } from './core/http/health.routes.js';
import { movieRoutes } from './movies/movie.routes.js';
import type { MovieService } from './movies/movie.service.js';
import type { BookingService } from './bookings/booking.service.js';
import type { RateLimits } from './core/http/rate-limit.js';
import type { PaymentService } from './payments/payment.service.js';
import { adminRoutes } from './admin/admin.routes.js';
import { viewHelpers } from './core/http/view-helpers.js';
import type { DarajaClient } from './daraja/daraja.client.js';
import type { Simulator } from './simulator/index.js';

export const ROOT_DIR = fileURLToPath(new URL('..', import.meta.url));

/** What the app needs, built once by the composition root (src/compose.ts) or by a test. */
export interface AppDeps {
  config: Readonly<Config>;
  database: DatabaseHandle;
  logger: Logger;
  daraja: DarajaClient;
  /** The built-in simulator, when mounted (DARAJA_ENV=simulator without DARAJA_BASE_URL). */
  simulator?: Simulator;
  now: () => Date;
  services: {
    movies: MovieService;
    bookings: BookingService;
    /** Per-app abuse limits (bookings per IP, pushes per phone); fresh counts with each app. */
    rateLimits: RateLimits;
    /** STK pushes, the callback and the reconciler's pieces (src/payments). */
    payments: PaymentService;
  };
  /** Routers mounted before the body parsers and CSRF (the callback reads its own raw body). */
  earlyRouters?: Router[];
  /** Feature routers mounted after the catalogue. */
  routers?: Router[];
  /** The built-in simulator's router, mounted at /simulator when present. */
  simulatorRouter?: Router;
}

/** Builds the Express app. Never listens: server.ts does, and tests use supertest. */
export function createApp(deps: AppDeps): Express {
  const { config } = deps;
  const app = express();
  const secure = config.publicBaseUrl.startsWith('https://');

  app.set('trust proxy', config.trustProxy);
  app.set('view engine', 'ejs');
  app.set('views', `${ROOT_DIR}views`);
  app.disable('x-powered-by');
  app.locals.helpers = viewHelpers;
  app.locals.appName = 'Tikiti';

  app.use(requestLogging(deps.logger));
  app.use(
    helmet({
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
    }),
  );
  app.use(express.static(`${ROOT_DIR}public`, { maxAge: config.isProduction ? '1h' : 0, index: false }));
  app.use(healthRoutes(deps));

  if (deps.simulatorRouter) app.use('/simulator', deps.simulatorRouter);
  for (const r of deps.earlyRouters ?? []) app.use(r);

  app.use(cookieParser());
  app.use(express.urlencoded({ extended: false, limit: '16kb', parameterLimit: 50 }));
  app.use(express.json({ limit: '64kb' }));
  app.use(
    csrfProtection({
      secret: config.csrfSecret,
      secure,
      skip: (req) => req.path.startsWith('/admin/api/') || req.path.startsWith('/simulator'),
    }),
  );

  app.use(movieRoutes(deps));
  for (const r of deps.routers ?? []) app.use(r);
  app.use('/admin', adminRoutes(deps));

  app.use(notFound);
  app.use(errorHandler);
  return app;
}
