import { createServer, type ServerResponse } from 'node:http';
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { createApp } from './app.js';
import { runCli, type CliContext } from './cli/run-cli.js';
import { buildServices, type BuildOptions } from './compose.js';

/**
 * Builds everything once, listens on PORT, and shuts down gracefully on SIGTERM/SIGINT: no new connections, every
 * request taken is answered (each with Connection: close), then the jobs stop and the process exits 0.
 */
export async function serve({ config, logger }: CliContext, opts: BuildOptions = {}): Promise<never> {
  const services = await buildServices(config, logger, opts);
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

  server.listen(config.port, () => {
    logger.info(
      {
        url: config.publicBaseUrl,
        database: config.databaseUrl.startsWith('sqlite:') ? config.databaseUrl : 'mysql',
        daraja: config.darajaEnv,
        simulator: config.mountSimulator ? `${config.publicBaseUrl}/simulator/phone` : undefined,
      },
      `Tikiti is listening on http://localhost:${config.port}`,
    );
    services.startJobs();
  });

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
  // Runs until a signal; the exit code comes from the shutdown.
  return new Promise<never>(() => {});
}

// The entry point (`npm start`): this file run directly, not imported.
if (process.argv[1] && import.meta.url === pathToFileURL(resolve(process.argv[1])).href) {
  runCli('Tikiti failed to start', (ctx) => serve(ctx));
}
