import { createServer, type ServerResponse } from 'node:http';
import { ConfigError, loadConfigFromEnvironment } from './core/config.js';
import { createLogger } from './core/logger.js';
import { buildRuntime } from './compose.js';

/** The entry point: read config, build everything once, listen, and shut down gracefully on SIGTERM/SIGINT. */
async function main(): Promise<void> {
  let config;
  try {
    config = await loadConfigFromEnvironment();
  } catch (err) {
    if (err instanceof ConfigError) {
      console.error(`Tikiti cannot start.\n${err.problems.map((p) => `  ✗ ${p}`).join('\n')}`);
      process.exit(1);
    }
    throw err;
  }
  const logger = createLogger({ level: config.logLevel, pretty: Boolean(process.stdout.isTTY) });
  const runtime = await buildRuntime(config, logger);
  let shuttingDown = false;
  const inFlight = new Set<ServerResponse>();
  const server = createServer((req, res) => {
    inFlight.add(res);
    res.on('close', () => inFlight.delete(res));
    // During shutdown every answer closes its connection: a keep-alive connection would otherwise carry on after
    // its last answer and hold the process open until the 15 s cut-off, which drops whatever it is doing then.
    if (shuttingDown) res.setHeader('Connection', 'close');
    runtime.app(req, res);
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
    runtime.startJobs();
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
      await runtime.stop();
      clearTimeout(force);
      logger.info('stopped');
      logger.flush?.();
      process.exit(0);
    });
  };
  process.on('SIGTERM', () => shutdown('SIGTERM'));
  process.on('SIGINT', () => shutdown('SIGINT'));
  process.on('unhandledRejection', (reason) => logger.error({ err: reason }, 'unhandled promise rejection'));
}

main().catch((err) => {
  console.error('Tikiti failed to start:', err instanceof Error ? err.message : err);
  process.exit(1);
});
