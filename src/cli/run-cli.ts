import { ConfigError, loadConfigFromEnvironment, type Config } from '../config.js';
import { databaseProblem } from '../core/db/errors.js';
import { createLogger, type Logger } from '../core/logger.js';

export interface CliContext {
  config: Readonly<Config>;
  logger: Logger;
  args: string[];
}

/** The start-up refusal: "Tikiti cannot start." and one "✗" line per problem, on standard error. */
function printCannotStart(problems: string[]): void {
  console.error(`Tikiti cannot start.\n${problems.map((p) => `  ✗ ${p}`).join('\n')}`);
}

/**
 * Runs one command (the server or an npm script) the same way every time: reads the configuration once, prints every
 * problem in it as "Tikiti cannot start." and one "✗" line each (exit 1), builds a logger, and turns what `main`
 * resolves into the exit code. What `main` throws is printed the same way when it is a setting to fix (a ConfigError,
 * such as a port in use, or a database that DATABASE_URL names and that cannot be reached or refuses us: its host and
 * port, never its password), and as one line otherwise; never as a stack trace.
 */
export function runCli(
  /** How a failure is introduced: 'Tikiti failed to start', 'Reconcile failed'… */
  failure: string,
  main: (ctx: CliContext) => Promise<number | void>,
  opts: { logLevel?: (configured: string) => string } = {},
): void {
  let databaseUrl: string | undefined;
  const run = async (): Promise<number> => {
    let config: Readonly<Config>;
    try {
      config = await loadConfigFromEnvironment();
    } catch (err) {
      if (err instanceof ConfigError) {
        printCannotStart(err.problems);
        return 1;
      }
      throw err;
    }
    databaseUrl = config.databaseUrl;
    const level = opts.logLevel ? opts.logLevel(config.logLevel) : config.logLevel;
    const logger = createLogger({ level, pretty: Boolean(process.stdout.isTTY) });
    return (await main({ config, logger, args: process.argv.slice(2) })) ?? 0;
  };
  run().then(
    (code) => { process.exitCode = code; },
    (err: unknown) => {
      const problem = databaseUrl === undefined ? undefined : databaseProblem(err, databaseUrl);
      if (err instanceof ConfigError) printCannotStart(err.problems);
      else if (problem) printCannotStart([problem]);
      else console.error(`${failure}: ${err instanceof Error ? err.message : String(err)}`);
      process.exit(1);
    },
  );
}
