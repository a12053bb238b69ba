import type { Express, Router } from 'express';
import { createApp, type AppDeps } from './app.js';
import type { Config } from './core/config.js';
import { openDatabase, type DatabaseHandle } from './core/db/database.js';
import { migrateToLatest } from './core/db/migrate.js';
import type { Logger } from './core/logger.js';
import { seedDemoMoviesIfNoneUpcoming } from './movies/demo-movies.js';
import { MovieService } from './movies/movie.service.js';
import { DarajaClient } from './daraja/daraja.client.js';
import { credentialFingerprint } from './daraja/token-store.js';
import { DbTokenStore } from './payments/daraja-token.store.js';
import { createSimulator, type Simulator } from './simulator/index.js';
import { createRateLimits } from './core/http/rate-limit.js';
import { BookingService } from './bookings/booking.service.js';
import { bookingRoutes, renderRateLimited } from './bookings/booking.routes.js';
import { NotificationSender } from './notifications/notification.sender.js';
import { EmailNotifier, LogNotifier } from './notifications/notifier.js';
import { PaymentService } from './payments/payment.service.js';
import { paymentCallbackRoutes } from './payments/callback.routes.js';
import { Reconciler } from './payments/reconciler.js';

/** A background job the runtime starts after listening and stops first on shutdown. */
export interface BackgroundJob {
  name: string;
  start(): void;
  stop(): Promise<void>;
}

export interface Runtime {
  app: Express;
  deps: AppDeps;
  jobs: BackgroundJob[];
  /** Starts the background jobs (reconciler, notification sender). */
  startJobs(): void;
  /** Stops jobs, then closes the database. Call after the HTTP server has drained. */
  stop(): Promise<void>;
}

export interface RuntimeOptions {
  /** An already open database (tests); otherwise DATABASE_URL is opened. */
  database?: DatabaseHandle;
  now?: () => Date;
}

/**
 * The composition root: every dependency is built here once, from the config, and handed down. No DI framework;
 * tests call this with their own config and database.
 */
export async function buildRuntime(config: Readonly<Config>, logger: Logger, opts: RuntimeOptions = {}): Promise<Runtime> {
  const database = opts.database ?? (await openDatabase(config.databaseUrl));
  const now = opts.now ?? (() => new Date());
  try {
    const applied = await migrateToLatest(database.db);
    if (applied.length) logger.info({ applied }, 'database migrated');
    if (config.darajaEnv !== 'production') {
      const seeded = await seedDemoMoviesIfNoneUpcoming(database.db, now());
      if (seeded) logger.info({ seeded }, 'demo movies seeded');
    }
  } catch (err) {
    if (!opts.database) await database.close();
    throw err;
  }

  const jobs: BackgroundJob[] = [];
  const earlyRouters: Router[] = [];
  const routers: Router[] = [];
  const closers: Array<() => Promise<void>> = [];

  // The token lives in the database so every instance on it uses the same one: Daraja invalidates an app's previous
  // token whenever a new one is issued (docs/daraja-client.md).
  const tokenStore = new DbTokenStore(database.db, credentialFingerprint(config.daraja.baseUrl, config.daraja.consumerKey));
  const daraja = new DarajaClient(config.daraja, { logger: logger.child({ component: 'daraja' }), now, tokenStore });

  // The built-in simulator lives inside this process, but the client still reaches it over HTTP (config.daraja.baseUrl),
  // exactly as it would reach Safaricom.
  let simulator: Simulator | undefined;
  if (config.mountSimulator) {
    simulator = createSimulator({
      passkey: config.daraja.passkey,
      consumerKey: config.daraja.consumerKey,
      consumerSecret: config.daraja.consumerSecret,
      mode: config.simulator.mode,
      delayMs: config.simulator.delayMs,
      logger: logger.child({ component: 'simulator' }),
      now,
    });
    const sim = simulator;
    closers.push(() => sim.close());
  }

  // Payments: the callback reads its own body, so it is mounted before the parsers; the reconciler settles the rest.
  const paymentsLogger = logger.child({ component: 'payments' });
  const payments = new PaymentService({ database, daraja, config, logger: paymentsLogger, now });
  earlyRouters.push(paymentCallbackRoutes(payments, paymentsLogger));
  jobs.push(new Reconciler({ database, daraja, config, logger: logger.child({ component: 'reconciler' }), now, payments }));

  // Bookings: the abuse limits (memory, or Redis with REDIS_URL), the booking service, and the notification sender.
  const rateLimits = createRateLimits(config, { logger: logger.child({ component: 'rate-limit' }), onLimited: renderRateLimited });
  closers.push(() => rateLimits.close());
  const bookings = new BookingService({
    database,
    payments,
    config,
    logger: logger.child({ component: 'bookings' }),
    now,
  });
  jobs.push(
    new NotificationSender({
      db: database.db,
      logger: logger.child({ component: 'notifications' }),
      now,
      publicBaseUrl: config.publicBaseUrl,
      log: new LogNotifier(logger.child({ component: 'notifications' })),
      email: config.smtpUrl && config.mailFrom ? new EmailNotifier({ smtpUrl: config.smtpUrl, from: config.mailFrom }) : undefined,
    }),
  );

  const deps: AppDeps = {
    config,
    database,
    logger,
    daraja,
    simulator,
    now,
    services: {
      movies: new MovieService(database.db, now),
      bookings,
      rateLimits,
      payments,
    },
    earlyRouters,
    routers,
    simulatorRouter: simulator?.router,
  };

  routers.push(bookingRoutes(deps, rateLimits));
  const app = createApp(deps);

  let stopped = false;
  return {
    app,
    deps,
    jobs,
    startJobs() {
      for (const j of jobs) j.start();
    },
    async stop() {
      if (stopped) return;
      stopped = true;
      for (const j of jobs) await j.stop().catch((err) => logger.error({ err, job: j.name }, 'job did not stop cleanly'));
      for (const c of closers) await c().catch((err) => logger.error({ err }, 'close failed'));
      if (!opts.database) await database.close();
    },
  };
}
