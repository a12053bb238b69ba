import { ConfigError, loadConfigFromEnvironment, type Config } from '../config.js';
import { createLogger, type Logger } from '../core/logger.js';

export interface CliContext {
  config: Readonly<Config>;
  logger: Logger;
  args: string[];
}

/**
 * Runs one command (the server or an npm script) the same way every time: reads the configuration once, prints every
 * problem in it as "Tikiti cannot start." and one "✗" line each (exit 1), builds a logger, and turns what `main`
 * resolves into the exit code. An error `main` throws is printed as one line, never a stack trace.
 */
export function runCli(
  /** How a failure is introduced: 'Tikiti failed to start', 'Reconcile failed'… */
  failure: string,
  main: (ctx: CliContext) => Promise<number | void>,
  opts: { logLevel?: (configured: string) => string } = {},
): void {
  const run = async (): Promise<number> => {
    let config: Readonly<Config>;
    try {
      config = await loadConfigFromEnvironment();
    } catch (err) {
      if (err instanceof ConfigError) {
        console.error(`Tikiti cannot start.\n${err.problems.map((p) => `  ✗ ${p}`).join('\n')}`);
        return 1;
      }
      throw err;
    }
    const level = opts.logLevel ? opts.logLevel(config.logLevel) : config.logLevel;
    const logger = createLogger({ level, pretty: Boolean(process.stdout.isTTY) });
    return (await main({ config, logger, args: process.argv.slice(2) })) ?? 0;
  };
  run().then(
    (code) => { process.exitCode = code; },
    (err: unknown) => {
      console.error(`${failure}: ${err instanceof Error ? err.message : String(err)}`);
      process.exit(1);
    },
  );
}
