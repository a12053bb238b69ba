import { createServer, type Server, type ServerResponse } from 'node:http';
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { createApp } from './app.js';
import { runCli, type CliContext } from './cli/run-cli.js';
import { buildServices, type BuildOptions, type Services } from './compose.js';
import { ConfigError, type Config } from './config.js';
import { databasePlace, databaseProblem, unreachableCode } from './core/db/errors.js';
import type { Logger } from './core/logger.js';

/** Waits between attempts to reach the database at start: 1 s, 2 s, 4 s, then every 5 s. */
const retryDelayMs = (attempt: number) => Math.min(1000 * 2 ** (attempt - 1), 5000);

/**
 * Builds everything once, listens on PORT at once, then readies the database: while it cannot be reached the server
 * answers /healthz 200, /readyz 503, the callback 200 (spooled) and everything else 503, and tries again, one log line
 * per attempt naming where DATABASE_URL points; a database that refuses us (wrong password, no such database) or a
 * failed migration ends the start at once with one line. Shuts down gracefully on SIGTERM/SIGINT: no new connections,
 * every request taken is answered (each with Connection: close), then the jobs stop and the process exits 0.
 */
export async function serve({ config, logger }: CliContext, opts: BuildOptions = {}): Promise<never> {
  const services = await buildServices(config, logger, { ...opts, deferDatabase: true });
  const app = createApp(services);
  let shuttingDown = false;
  const inFlight = new Set<ServerResponse>();
  const server = createServer((req, res) => {
    inFlight.add(res);
    res.on('close', () => inFlight.delete(res));
    // During shutdown every answer closes its connection: a keep-alive connection would otherwise carry on after
    // its last answer and hold the process open until the 15 s cut-off, which drops whatever it is doing then.
    if (shuttingDown) res.setHeader('Connection', 'close');
    app(req, res);
  });
  server.keepAliveTimeout = 65_000; // longer than common load balancers' idle timeout
  server.headersTimeout = 66_000;

  try {
    await listen(server, config.port);
  } catch (err) {
    await services.stop();
    throw err;
  }
  logger.info(
    {
      url: config.publicBaseUrl,
      database: config.databaseUrl.startsWith('sqlite:') ? config.databaseUrl : 'mysql',
      daraja: config.darajaEnv,
      simulator: config.mountSimulator ? `${config.publicBaseUrl}/simulator/phone` : undefined,
    },
    `Tikiti is listening on http://localhost:${config.port}`,
  );

  const shutdown = (signal: string) => {
    if (shuttingDown) return;
    shuttingDown = true;
    logger.info({ signal, inFlight: inFlight.size }, 'shutting down: no new connections, finishing requests in flight');
    for (const res of inFlight) if (!res.headersSent) res.setHeader('Connection', 'close');
    const force = setTimeout(() => {
      logger.warn('requests still running after 15 s; closing them');
      server.closeAllConnections();
    }, 15_000);
    force.unref();
    // server.close() closes the connections idle now; this closes the ones that fall idle later (an answer that had
    // already sent its headers without Connection: close).
    const sweep = setInterval(() => server.closeIdleConnections(), 200);
    sweep.unref();
    server.close(async () => {
      clearInterval(sweep);
      await services.stop();
      clearTimeout(force);
      logger.info('stopped');
      logger.flush?.();
      process.exit(0);
    });
  };
  process.on('SIGTERM', () => shutdown('SIGTERM'));
  process.on('SIGINT', () => shutdown('SIGINT'));
  process.on('unhandledRejection', (reason) => logger.error({ err: reason }, 'unhandled promise rejection'));

  if (await readyDatabase(services, config, logger, () => shuttingDown)) services.startJobs();
  // Runs until a signal; the exit code comes from the shutdown.
  return new Promise<never>(() => {});
}

/** Listens on `port`, or fails with the start-up line for a port that is taken or not ours to use. */
function listen(server: Server, port: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const failed = (err: NodeJS.ErrnoException) => {
      if (err.code === 'EADDRINUSE') {
        reject(new ConfigError([`PORT ${port} is already in use: stop the program that holds it (another Tikiti?) or set PORT to a free port.`]));
      } else if (err.code === 'EACCES') {
        reject(new ConfigError([`PORT ${port} needs privileges this user does not have: use a port above 1023, e.g. PORT=3000.`]));
      } else reject(err);
    };
    server.once('error', failed);
    server.listen(port, () => {
      server.off('error', failed);
      resolve();
    });
  });
}

/**
 * Runs prepareDatabase until it succeeds (true) or the server is shutting down (false). An error that is not the
 * database being away is thrown: waiting would not fix a wrong password or a broken migration.
 */
async function readyDatabase(services: Services, config: Readonly<Config>, logger: Logger, stopping: () => boolean): Promise<boolean> {
  for (let attempt = 1; !stopping(); attempt++) {
    try {
      await services.prepareDatabase();
      if (attempt > 1) logger.info({ attempts: attempt }, `The database is reachable again (${databasePlace(config.databaseUrl)}): serving.`);
      return true;
    } catch (err) {
      const code = unreachableCode(err);
      if (!code) {
        const problem = databaseProblem(err, config.databaseUrl);
        throw problem ? new ConfigError([problem]) : err;
      }
      const waitMs = retryDelayMs(attempt);
      const place = databasePlace(config.databaseUrl);
      logger.warn(
        { attempt, code, database: place },
        `DATABASE_URL: ${place} cannot be reached (${code}); answering 503 and trying again in ${waitMs / 1000} s.`,
      );
      await new Promise((r) => setTimeout(r, waitMs).unref());
    }
  }
  return false;
}

// The entry point (`npm start`): this file run directly, not imported.
if (process.argv[1] && import.meta.url === pathToFileURL(resolve(process.argv[1])).href) {
  runCli('Tikiti failed to start', (ctx) => serve(ctx));
}
