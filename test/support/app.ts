import type { Dialect } from '../../src/core/db/database.js';
import type { Config } from '../../src/core/config.js';
import { buildRuntime, type Runtime } from '../../src/compose.js';
import { silentLogger, type Logger } from '../../src/core/logger.js';
import { createTestDatabase, type TestDatabase } from './db.js';
import { testConfig } from './config.js';

export interface TestApp extends Runtime {
  database: TestDatabase;
  config: Readonly<Config>;
  close(): Promise<void>;
}

/** The whole app on a fresh database of the given dialect, built through the real composition root. */
export async function createTestApp(
  dialect: Dialect,
  env: Record<string, string | undefined> = {},
  opts: { logger?: Logger; now?: () => Date } = {},
): Promise<TestApp> {
  const database = await createTestDatabase(dialect, { migrate: false });
  const config = testConfig({ DATABASE_URL: database.url, ...env });
  const runtime = await buildRuntime(config, opts.logger ?? silentLogger, { database, now: opts.now });
  return {
    ...runtime,
    database,
    config,
    async close() {
      await runtime.stop();
      await database.drop();
    },
  };
}

/** GETs a page with the agent (keeping cookies) and returns the CSRF token from its form. */
export async function csrfFrom(agent: { get(url: string): PromiseLike<{ text: string }> }, url: string): Promise<string> {
  const page = await agent.get(url);
  const m = /name="_csrf" value="([^"]+)"/.exec(page.text);
  if (!m) throw new Error(`no CSRF token on ${url}`);
  return m[1]!;
}
