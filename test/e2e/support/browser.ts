import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { chromium, type Browser, type BrowserContext, type BrowserContextOptions, type Page } from 'playwright-core';
import { REPO_ROOT } from './app-process.js';

/** Debian's Chromium: npm cannot download browsers here, and .ci/run installs this one. */
export const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

/** Launches headless Chromium. The background-networking flags keep it from calling home on a closed network. */
export function launchBrowser(): Promise<Browser> {
  return chromium.launch({
    executablePath: CHROMIUM,
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      '--disable-dev-shm-usage',
    ],
  });
}

export const MOBILE = { width: 360, height: 740 } as const;
export const DESKTOP = { width: 1280, height: 800 } as const;

/** What a context saw: every request, and the console errors that mean something broke (CSP, script errors). */
export interface Recorder {
  requests: string[];
  consoleErrors: string[];
  pageErrors: string[];
}

/** A browser context that records every request and console error of every page (and tab) opened in it. */
export async function newRecordedContext(
  browser: Browser,
  options: BrowserContextOptions = {},
): Promise<{ context: BrowserContext; recorder: Recorder }> {
  const context = await browser.newContext({ viewport: MOBILE, locale: 'en-KE', ...options });
  const recorder: Recorder = { requests: [], consoleErrors: [], pageErrors: [] };
  context.on('request', (req) => recorder.requests.push(req.url()));
  const watch = (page: Page) => {
    page.on('console', (msg) => {
      if (msg.type() === 'error') recorder.consoleErrors.push(`${page.url()}: ${msg.text()}`);
    });
    page.on('pageerror', (err) => recorder.pageErrors.push(`${page.url()}: ${err.message}`));
  };
  context.on('page', watch);
  return { context, recorder };
}

/** Requests that left the app's origin (CDNs, web fonts, analytics…). data: and about: URLs never leave the page. */
export function foreignRequests(recorder: Recorder, baseUrl: string): string[] {
  const origin = new URL(baseUrl).origin;
  return recorder.requests.filter((u) => {
    if (u.startsWith('data:') || u.startsWith('about:') || u.startsWith('blob:')) return false;
    try {
      return new URL(u).origin !== origin;
    } catch {
      return true;
    }
  });
}

/** Console errors that show a real problem: a CSP refusal or a script error. (4xx answers we ask for are fine.) */
export function seriousConsoleErrors(recorder: Recorder): string[] {
  return [
    ...recorder.consoleErrors.filter((e) => /Content Security Policy|Refused to|Uncaught/i.test(e)),
    ...recorder.pageErrors,
  ];
}

/** Screenshot and HTML of every page still open in the context, under test-results/<name>/. */
export async function saveArtifacts(context: BrowserContext, name: string): Promise<string> {
  const dir = join(REPO_ROOT, 'test-results', name.replace(/[^\w.-]+/g, '-').slice(0, 120));
  mkdirSync(dir, { recursive: true });
  let i = 0;
  for (const page of context.pages()) {
    i += 1;
    try {
      await page.screenshot({ path: join(dir, `page-${i}.png`), fullPage: true, timeout: 5000 });
      writeFileSync(join(dir, `page-${i}.html`), `<!-- ${page.url()} -->\n${await page.content()}`);
    } catch (err) {
      writeFileSync(join(dir, `page-${i}.error.txt`), `${page.url()}\n${String(err)}`);
    }
  }
  return dir;
}

/** The widest element overflow at the current viewport: scrollWidth must not exceed the viewport width. */
export async function horizontalOverflow(page: Page): Promise<{ scrollWidth: number; viewport: number; culprits: string[] }> {
  return page.evaluate(() => {
    const viewport = document.documentElement.clientWidth;
    const culprits: string[] = [];
    for (const el of Array.from(document.querySelectorAll('body *'))) {
      const r = el.getBoundingClientRect();
      if (r.right > viewport + 0.5 && r.width > 0) {
        const id = el.id ? `#${el.id}` : '';
        const cls = typeof el.className === 'string' && el.className ? `.${el.className.trim().split(/\s+/).join('.')}` : '';
        culprits.push(`${el.tagName.toLowerCase()}${id}${cls} (right ${Math.round(r.right)})`);
        if (culprits.length >= 5) break;
      }
    }
    return { scrollWidth: document.documentElement.scrollWidth, viewport, culprits };
  });
}

/** Images drawn at another shape than their own (a flex item stretched, say): more than 5 % off in aspect ratio. */
export async function distortedImages(page: Page): Promise<string[]> {
  return page.evaluate(() =>
    Array.from(document.images)
      .filter((img) => img.complete && img.naturalWidth > 0 && img.naturalHeight > 0)
      .flatMap((img) => {
        const r = img.getBoundingClientRect();
        if (r.width === 0 || r.height === 0 || getComputedStyle(img).objectFit !== 'fill') return [];
        const drawn = r.width / r.height;
        const own = img.naturalWidth / img.naturalHeight;
        return Math.abs(drawn / own - 1) > 0.05
          ? [`${img.getAttribute('src')} drawn ${Math.round(r.width)}×${Math.round(r.height)}, is ${img.naturalWidth}×${img.naturalHeight}`]
          : [];
      }),
  );
}
