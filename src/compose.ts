import { randomBytes } from 'node:crypto';
import type { Config } from './config.js';
import { openDatabase, type DatabaseHandle } from './core/db/database.js';
import { migrateToLatest } from './core/db/migrate.js';
import { createLoginLimiter, type LoginLimiter } from './core/http/login-limiter.js';
import { lazyRedis } from './core/http/rate-limit-store.js';
import type { BackgroundJob } from './core/jobs.js';
import type { Logger } from './core/logger.js';
import { OperatorService } from './admin/operator.service.js';
import { BookingService } from './bookings/booking.service.js';
import { DoorService } from './door/door.service.js';
import { renderRateLimited } from './bookings/booking.routes.js';
import { createRateLimits, type RateLimits } from './bookings/rate-limit.js';
import { DarajaClient } from './daraja/daraja.client.js';
import { credentialFingerprint } from './daraja/token-store.js';
import { seedDemoMoviesIfNoneUpcoming } from './movies/demo-movies.js';
import { MovieService } from './movies/movie.service.js';
import { NotificationSender } from './notifications/notification.sender.js';
import { EmailNotifier, LogNotifier, type MailTransport } from './notifications/notifier.js';
import { AfricasTalkingSms, LogSms } from './notifications/sms.africastalking.js';
import { CallbackIntake } from './payments/callback-intake.js';
import { CallbackSpool, defaultSpoolPath } from './payments/callback-spool.js';
import { PushService } from './payments/push.service.js';
import { databaseFingerprint } from './payments/spool-identity.js';
import { Reconciler } from './payments/reconciler.js';
import { InboxApplier, newInstanceId } from './payments/inbox-applier.js';
import { InboxRetention } from './payments/inbox-retention.js';
import { ResultApplier } from './payments/result-applier.js';
import { RefundApplier } from './refunds/refund-applier.js';
import { RefundReconciler } from './refunds/refund-reconciler.js';
import { RefundResultIntake } from './refunds/refund-results.js';
import { RefundSender } from './refunds/refund-sender.js';
import { RefundService } from './refunds/refund.service.js';
import { createSimulator, type Simulator } from './simulator/index.js';
import { keptSecret } from './store/app-secret.repository.js';
import { DarajaTokenRepository } from './store/daraja-token.repository.js';

/** Everything the app and the commands run on, built once from the config. */
export interface Services {
  config: Readonly<Config>;
  logger: Logger;
  database: DatabaseHandle;
  /**
   * Migrates (unless told not to) and seeds, and loads what the app keeps in the database (the CSRF key): what must be
   * done before the app serves anything that reads data. buildServices runs it unless `deferDatabase` is set; the
   * server runs it itself, again after each failure, while the database is away. Repeats after a success do nothing.
   */
  prepareDatabase(): Promise<void>;
  /** True once prepareDatabase has succeeded; until then the app answers 503 to all but health and the callback. */
  databaseReady(): boolean;
  /** The key that signs CSRF tokens: CSRF_SECRET, or the one kept in the database. Only once the database is ready. */
  csrfSecret(): string;
  now: () => Date;
  daraja: DarajaClient;
  /** The built-in simulator, when mounted (DARAJA_ENV=simulator without DARAJA_BASE_URL). */
  simulator?: Simulator;
  movies: MovieService;
  bookings: BookingService;
  /** Abuse limits (bookings per client, pushes per phone); fresh counts with each build unless REDIS_URL is set. */
  rateLimits: RateLimits;
  /** Failed Basic-auth sign-ins per client address, one limiter for every area (shared through Redis when set). */
  loginLimiter: LoginLimiter;
  payments: {
    pushes: PushService; intake: CallbackIntake; applier: ResultApplier; inboxApplier: InboxApplier; reconciler: Reconciler;
    retention: InboxRetention;
  };
  operator: OperatorService;
  /** M-Pesa reversals: the operator's refunds and cancelled shows, their results, and the reconciler settling them. */
  refunds: { service: RefundService; sender: RefundSender; applier: RefundApplier; results: RefundResultIntake; reconciler: RefundReconciler };
  /** The door: ticket look-ups and admissions. */
  door: DoorService;
  notifications: NotificationSender;
  /** The reconciler and the notification sender: started by startJobs, stopped first by stop. */
  jobs: BackgroundJob[];
  startJobs(): void;
  /** Stops the jobs, closes the simulator, the limits' Redis and (unless it was handed in) the database. */
  stop(): Promise<void>;
}

export interface BuildOptions {
  /** An already open database (tests); otherwise DATABASE_URL is opened, and closed by stop(). */
  database?: DatabaseHandle;
  now?: () => Date;
  /** Apply pending migrations first. Default true. False: the database is migrated already (tests). */
  migrate?: boolean;
  /**
   * Build without touching the database: the caller runs prepareDatabase() when it can (the server, which listens
   * at once and keeps trying while the database is away). Default false: it is prepared before buildServices returns.
   */
  deferDatabase?: boolean;
  /** Seed the demo catalogue (outside production, when no show is upcoming). Default true: the server; commands say false. */
  seed?: boolean;
  /** Where callbacks go while the inbox cannot take them; default beside the database (see defaultSpoolPath). */
  spoolPath?: string;
  /** The name this process leases inbox rows under (payments/inbox-applier.ts); a fresh one by default. */
  instanceId?: string;
  /** Where the built-in simulator keeps its prompts; default config.simulator.statePath. */
  simulatorStatePath?: string;
  /** Send email through this instead of SMTP_URL (tests). */
  mailTransport?: MailTransport;
  /** Keys of the rate limits in Redis (tests use their own). */
  rateLimitPrefix?: string;
  /** false: a fresh Daraja token before every call, the user's guide's way. The booking benchmark's baseline only. */
  cacheTokens?: boolean;
}

/**
 * The composition root: every service is built here, once, from the config, and handed down. The server and every
 * command (reconcile, daraja:check, migrate) use it, so they run on the same object graph (the shared Daraja token
 * store above all: a client of its own would knock out the running instances' token). No DI framework.
 */
export async function buildServices(config: Readonly<Config>, logger: Logger, opts: BuildOptions = {}): Promise<Services> {
  const database = opts.database ?? (await openDatabase(config.databaseUrl));
  const now = opts.now ?? (() => new Date());
  let ready = false;
  let csrfSecret = config.csrfSecret;
  let databaseId: string | undefined;
  const prepareDatabase = async () => {
    if (ready) return;
    if (opts.migrate !== false) {
      const applied = await migrateToLatest(database.db);
      if (applied.length) logger.info({ applied }, 'database migrated');
      if (opts.seed !== false && !config.isProduction) {
        const seeded = await seedDemoMoviesIfNoneUpcoming(database.db, now());
        if (seeded) logger.info({ seeded }, 'demo movies seeded');
      }
    }
    // Kept in the database, not made per start: a form opened before a restart still submits, and every instance on
    // this database signs alike (docs/adr/0021-csrf-secret-in-the-database.md). CSRF_SECRET, when set, wins.
    csrfSecret ??= await keptSecret(database.db, 'csrf', randomBytes(32).toString('hex'), now());
    // The database's own id, made once: spooled callbacks carry it and are drained only into it (docs/adr/0036).
    databaseId ??= await keptSecret(database.db, 'database-id', randomBytes(16).toString('hex'), now());
    ready = true;
  };
  if (!opts.deferDatabase) {
    try {
      await prepareDatabase();
    } catch (err) {
      if (!opts.database) await database.close();
      throw err;
    }
  }
  const log = (component: string) => logger.child({ component });

  // The token lives in the database so every instance on it uses the same one: Daraja invalidates an app's previous
  // token whenever a new one is issued (docs/adr).
  const tokenStore = new DarajaTokenRepository(database.db, credentialFingerprint(config.daraja.baseUrl, config.daraja.consumerKey));
  const daraja = new DarajaClient(config.daraja, { logger: log('daraja'), now, tokenStore, ...(opts.cacheTokens === false ? { cacheTokens: false } : {}) });

  // The built-in simulator lives inside this process, but the client still reaches it over HTTP (config.daraja.baseUrl),
  // exactly as it would reach Safaricom.
  const simulator = config.mountSimulator
    ? createSimulator({
      passkey: config.daraja.passkey,
      consumerKey: config.daraja.consumerKey,
      consumerSecret: config.daraja.consumerSecret,
      // Like the passkey: the built-in simulator expects the initiator this app is configured with.
      ...(config.daraja.initiator?.password ? { initiator: { name: config.daraja.initiator.name, password: config.daraja.initiator.password } } : {}),
      mode: config.simulator.mode,
      delayMs: config.simulator.delayMs,
      promptSeconds: config.simulator.promptSeconds,
      strict: config.simulator.strict,
      // Callbacks go to this app only: a simulator inside a public app must not post wherever a request says.
      callbackOrigins: config.simulator.callbackOrigins,
      statePath: opts.simulatorStatePath ?? config.simulator.statePath,
      logger: log('simulator'),
      now,
    })
    : undefined;

  const paymentsLog = log('payments');
  const fingerprint = databaseFingerprint(config.databaseUrl);
  const applier = new ResultApplier({ database, logger: paymentsLog, now });
  const pushes = new PushService({ database, daraja, applier, logger: paymentsLog, now });
  const applyConcurrency = database.dialect === 'sqlite' ? 1 : 8;
  const inboxApplier = new InboxApplier({
    database, applier, logger: paymentsLog, now, instanceId: opts.instanceId ?? newInstanceId(),
    // MySQL: enough transactions in flight for InnoDB to share its log flushes, within the pool of 16 (the intake
    // uses up to 4 at once).
    concurrency: applyConcurrency,
  });
  const intake = new CallbackIntake({
    database, inboxApplier, logger: paymentsLog, now,
    spool: new CallbackSpool(opts.spoolPath ?? defaultSpoolPath(config.databaseUrl), () => ({
      database: fingerprint, ...(databaseId !== undefined ? { databaseId } : {}),
    })),
    callbackToken: config.callbackToken,
    allowedIps: config.callbackAllowedIps,
    rejectedPerSourcePerHour: config.rejectedCallbacksPerSourcePerHour,
    // Keeping up: every row in hand has a worker, plus the read that is fetching this one.
    answerAfterAppliedBacklog: applyConcurrency + 1,
  });
  const retention = new InboxRetention({ database, logger: paymentsLog, now, retentionDays: config.inboxRetentionDays });
  const reconciler = new Reconciler({ database, daraja, applier, intake, config, logger: log('reconciler'), now });

  const refundsLog = log('refunds');
  const refundApplier = new RefundApplier({
    database, logger: refundsLog, now,
    // An unanswered reversal is failed on Transaction Status' word only once Daraja has had time to act on it.
    settleAfterMs: Math.max(config.paymentTimeoutSeconds * 1000, config.daraja.timeoutMs),
  });
  const refundSender = new RefundSender({
    database, daraja, applier: refundApplier, logger: refundsLog, now,
    perSecond: config.refundsPerSecond, resultWaitMs: config.paymentTimeoutSeconds * 1000,
  });
  const refundService = new RefundService({ database, sender: refundSender, logger: refundsLog, now });
  const refundResults = new RefundResultIntake({
    database, applier: refundApplier, logger: refundsLog, now, callbackToken: config.callbackToken, allowedIps: config.callbackAllowedIps,
    rejected: intake.rejected,
  });
  const refundReconciler = new RefundReconciler({
    database, daraja, sender: refundSender, refunds: refundService, results: refundResults, logger: refundsLog, now,
    config: { reconcileIntervalSeconds: config.reconcileIntervalSeconds, darajaTimeoutMs: config.daraja.timeoutMs },
  });

  // One Redis client (REDIS_URL) for every limit, connected on first use.
  const redis = config.redisUrl ? lazyRedis(config.redisUrl, log('rate-limit')) : undefined;
  const rateLimits = createRateLimits(config, {
    logger: log('rate-limit'), onLimited: renderRateLimited, ...(redis ? { redis } : {}),
    ...(opts.rateLimitPrefix ? { prefix: opts.rateLimitPrefix } : {}),
  });
  const loginLimiter = createLoginLimiter({
    logger: log('auth'), now, ...(redis ? { redis } : {}),
    ...(opts.rateLimitPrefix ? { prefix: `${opts.rateLimitPrefix}logins:` } : {}),
  });
  const bookings = new BookingService({
    database,
    pushes,
    config: {
      maxTicketsPerBooking: config.maxTicketsPerBooking,
      paymentTimeoutSeconds: config.paymentTimeoutSeconds,
      accountReference: config.daraja.accountReference,
    },
    logger: log('bookings'),
    now,
  });

  const notificationsLog = log('notifications');
  const email = opts.mailTransport && config.mailFrom
    ? new EmailNotifier({ from: config.mailFrom, transport: opts.mailTransport })
    : config.smtpUrl && config.mailFrom ? new EmailNotifier({ smtpUrl: config.smtpUrl, from: config.mailFrom }) : undefined;
  // SMS_PROVIDER: Africa's Talking, or the simulator's look-alike through the same client; the log without one.
  const sms = config.sms.africastalking
    ? new AfricasTalkingSms({ ...config.sms.africastalking, timeoutMs: 10_000 }, notificationsLog)
    : new LogSms(notificationsLog);
  const notifications = new NotificationSender({
    db: database.db, logger: notificationsLog, now, publicBaseUrl: config.publicBaseUrl, log: new LogNotifier(notificationsLog), email, sms,
  });

  const jobs: BackgroundJob[] = [inboxApplier, reconciler, refundReconciler, notifications, retention];
  let stopped = false;
  return {
    config,
    logger,
    database,
    prepareDatabase,
    databaseReady: () => ready,
    csrfSecret() {
      if (csrfSecret === undefined) throw new Error('csrfSecret() before prepareDatabase()');
      return csrfSecret;
    },
    now,
    daraja,
    simulator,
    movies: new MovieService(database, now),
    bookings,
    rateLimits,
    loginLimiter,
    payments: { pushes, intake, applier, inboxApplier, reconciler, retention },
    operator: new OperatorService({ database, now }, applier),
    refunds: { service: refundService, sender: refundSender, applier: refundApplier, results: refundResults, reconciler: refundReconciler },
    door: new DoorService({ database, now }),
    notifications,
    jobs,
    startJobs() {
      for (const j of jobs) j.start();
    },
    async stop() {
      if (stopped) return;
      stopped = true;
      // Callbacks waiting for their commit are written first (their requests are waiting for that answer).
      await intake.settled().catch(() => undefined);
      for (const j of jobs) await j.stop().catch((err) => logger.error({ err, job: j.name }, 'job did not stop cleanly'));
      await refundSender.stop().catch((err) => logger.error({ err }, 'refund sender did not stop cleanly'));
      await simulator?.close().catch((err) => logger.error({ err }, 'simulator did not close cleanly'));
      await rateLimits.close().catch((err) => logger.error({ err }, 'rate-limit store did not close cleanly'));
      await redis?.close().catch((err) => logger.error({ err }, 'rate-limit Redis did not close cleanly'));
      if (!opts.database) await database.close();
    },
  };
}
