import { createServer } from 'node:http';
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
  const server = createServer(runtime.app);
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

  let shuttingDown = false;
  const shutdown = (signal: string) => {
    if (shuttingDown) return;
    shuttingDown = true;
    logger.info({ signal }, 'shutting down: no new connections, finishing requests in flight');
    const force = setTimeout(() => {
      logger.warn('requests still running after 15 s; closing them');
      server.closeAllConnections();
    }, 15_000);
    force.unref();
    server.close(async () => {
      await runtime.stop();
      clearTimeout(force);
      logger.info('stopped');
      logger.flush?.();
      process.exit(0);
    });
    server.closeIdleConnections();
  };
  process.on('SIGTERM', () => shutdown('SIGTERM'));
  process.on('SIGINT', () => shutdown('SIGINT'));
  process.on('unhandledRejection', (reason) => logger.error({ err: reason }, 'unhandled promise rejection'));
}

main().catch((err) => {
  console.error('Tikiti failed to start:', err instanceof Error ? err.message : err);
  process.exit(1);
});
