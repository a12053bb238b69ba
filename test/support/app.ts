import { randomBytes } from 'node:crypto';
import { rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Express } from 'express';
import { createApp } from '../../src/app.js';
import { buildServices, type BuildOptions, type Services } from '../../src/compose.js';
import type { Config } from '../../src/config.js';
import type { Dialect } from '../../src/core/db/database.js';
import { silentLogger, type Logger } from '../../src/core/logger.js';
import { createTestDatabase, type TestDatabase } from './db.js';
import { testConfig } from './config.js';

export interface TestApp {
  app: Express;
  services: Services;
  database: TestDatabase;
  config: Readonly<Config>;
  close(): Promise<void>;
}

export type TestAppOptions = Omit<BuildOptions, 'database'> & { logger?: Logger };

/** The whole app on a fresh database of the given dialect, built through the real composition root. */
export async function createTestApp(
  dialect: Dialect,
  env: Record<string, string | undefined> = {},
  opts: TestAppOptions = {},
): Promise<TestApp> {
  const database = await createTestDatabase(dialect, { migrate: false });
  const config = testConfig({ DATABASE_URL: database.url, ...env });
  const { logger, ...build } = opts;
  // The built-in simulator's prompts go to a file of this app's own, removed with it.
  const statePath = join(tmpdir(), `tikiti-sim-${randomBytes(6).toString('hex')}.jsonl`);
  const services = await buildServices(config, logger ?? silentLogger, { simulatorStatePath: statePath, ...build, database });
  return {
    app: createApp(services),
    services,
    database,
    config,
    async close() {
      await services.stop();
      await database.drop();
      rmSync(statePath, { force: true });
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
