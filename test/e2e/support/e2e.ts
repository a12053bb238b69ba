import { writeFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import type { Browser, BrowserContext, BrowserContextOptions, Page } from 'playwright-core';
import { afterAll, afterEach, beforeAll } from 'vitest';
import { startApp, type AppProcess } from './app-process.js';
import { foreignRequests, launchBrowser, newRecordedContext, saveArtifacts, seriousConsoleErrors, type Recorder } from './browser.js';

export interface E2E {
  readonly app: AppProcess;
  readonly browser: Browser;
  /** A fresh browser context (360 px wide unless told), checked and closed after the test. */
  newContext(options?: BrowserContextOptions): Promise<BrowserContext>;
  /** A page in a fresh context. */
  newPage(options?: BrowserContextOptions): Promise<Page>;
}

/**
 * One app process with its own fresh SQLite database and one Chromium per test file; a fresh browser context per
 * test. After every test: fail if any page requested another origin (no CDNs, no web fonts) or hit a CSP refusal or
 * a script error; on failure keep a screenshot and the HTML of every open page, and the app's log, under
 * test-results/.
 */
export function setupE2E(env: Record<string, string> = {}): E2E {
  let app: AppProcess | undefined;
  let browser: Browser | undefined;
  let open: Array<{ context: BrowserContext; recorder: Recorder }> = [];

  beforeAll(async () => {
    [app, browser] = await Promise.all([startApp(env), launchBrowser()]);
  }, 90_000);

  afterAll(async () => {
    await browser?.close();
    await app?.stop();
  });

  afterEach(async (ctx) => {
    const contexts = open;
    open = [];
    if (!app) return;
    const problems: string[] = [];
    for (const { recorder } of contexts) {
      const foreign = foreignRequests(recorder, app.baseUrl);
      if (foreign.length) problems.push(`requests left ${app.baseUrl}:\n  ${foreign.join('\n  ')}`);
      const errors = seriousConsoleErrors(recorder);
      if (errors.length) problems.push(`CSP refusals or script errors:\n  ${errors.join('\n  ')}`);
    }
    if (ctx.task.result?.state === 'fail' || problems.length) {
      const name = `${basename(ctx.task.file?.name ?? 'e2e').replace(/\.e2e\.test\.ts$/, '')}-${ctx.task.name}`;
      for (const [i, { context }] of contexts.entries()) {
        const dir = await saveArtifacts(context, `${name}${i ? `-ctx${i + 1}` : ''}`);
        if (i === 0) writeFileSync(join(dir, 'app.log'), app.output());
      }
    }
    await Promise.all(contexts.map(({ context }) => context.close().catch(() => undefined)));
    if (problems.length) throw new Error(problems.join('\n'));
  }, 60_000);

  const e2e: E2E = {
    get app() {
      if (!app) throw new Error('the app is not started (beforeAll failed?)');
      return app;
    },
    get browser() {
      if (!browser) throw new Error('the browser is not started (beforeAll failed?)');
      return browser;
    },
    async newContext(options = {}) {
      const rec = await newRecordedContext(e2e.browser, options);
      open.push(rec);
      return rec.context;
    },
    async newPage(options = {}) {
      return (await e2e.newContext(options)).newPage();
    },
  };
  return e2e;
}
