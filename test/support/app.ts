import { randomBytes } from 'node:crypto';
import { rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { IncomingMessage, ServerResponse } from 'node:http';
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
  /** Waits until every callback acknowledged so far is applied (the inbox applier works after the answer). */
  settled(): Promise<void>;
  close(): Promise<void>;
}

export type TestAppOptions = Omit<BuildOptions, 'database'> & {
  logger?: Logger;
  /**
   * The real app answers a callback once its row is committed and applies it just after (payments/inbox-applier.ts).
   * By default the test app holds that answer back until the applier is idle too, so a test reads the applied state
   * right after the answer; false gives the app exactly as it runs (test/integration/payments/inbox-applier.test.ts).
   */
  settleCallbacks?: boolean;
};

/** Holds each callback's answer until `settled` resolves (see TestAppOptions.settleCallbacks). */
function answerCallbacksWhenApplied(app: Express, settled: () => Promise<void>): void {
  const handle = (app as unknown as { handle: (req: IncomingMessage, res: ServerResponse, next?: unknown) => void }).handle.bind(app);
  (app as unknown as { handle: typeof handle }).handle = (req, res, next) => {
    if (req.method === 'POST' && req.url?.startsWith('/api/payments/callback')) {
      const end = res.end.bind(res) as (...args: unknown[]) => ServerResponse;
      res.end = ((...args: unknown[]) => {
        void settled().finally(() => end(...args));
        return res;
      }) as typeof res.end;
    }
    handle(req, res, next);
  };
}

/** The whole app on a fresh database of the given dialect, built through the real composition root. */
export async function createTestApp(
  dialect: Dialect,
  env: Record<string, string | undefined> = {},
  opts: TestAppOptions = {},
): Promise<TestApp> {
  const database = await createTestDatabase(dialect, { migrate: false });
  const config = testConfig({ DATABASE_URL: database.url, ...env });
  const { logger, settleCallbacks = true, ...build } = opts;
  // The built-in simulator's prompts go to a file of this app's own, removed with it.
  const statePath = join(tmpdir(), `tikiti-sim-${randomBytes(6).toString('hex')}.jsonl`);
  const services = await buildServices(config, logger ?? silentLogger, { simulatorStatePath: statePath, ...build, database });
  const settled = async () => {
    await services.payments.intake.settled();
    await services.payments.inboxApplier.idle();
  };
  const app = createApp(services);
  if (settleCallbacks) answerCallbacksWhenApplied(app, settled);
  return {
    app,
    services,
    database,
    config,
    settled,
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
