import { Writable } from 'node:stream';
import { createLogger, type Logger } from '../../../src/core/logger.js';

/**
 * What a Content-Security-Policy of script-src/style-src 'self' would block in a page: inline scripts, <style>
 * blocks, style attributes, inline event handlers and javascript: URLs. Each finding is the offending snippet.
 */
export function inlineCodeIn(html: string): string[] {
  const found: string[] = [];
  const add = (re: RegExp) => {
    for (const m of html.matchAll(re)) found.push(m[0].slice(0, 80));
  };
  // A <script> without src, or with one and a body (the body would be inline code).
  add(/<script\b(?![^>]*\bsrc\s*=)[^>]*>/gi);
  add(/<script\b[^>]*\bsrc\s*=[^>]*>[^<\s]+<\/script>/gi);
  add(/<style\b[^>]*>/gi);
  add(/<[a-z][^>]*\sstyle\s*=/gi);
  add(/<[a-z][^>]*\son[a-z]+\s*=/gi);
  add(/(?:href|src|action|formaction)\s*=\s*["']?\s*javascript:/gi);
  return found;
}

/** Every <form method="post"> in a page, with whether it carries a non-empty _csrf field. */
export function postForms(html: string): Array<{ action: string; hasToken: boolean }> {
  const forms: Array<{ action: string; hasToken: boolean }> = [];
  for (const m of html.matchAll(/<form\b([^>]*)>([\s\S]*?)<\/form>/gi)) {
    const attrs = m[1] ?? '';
    if (!/method\s*=\s*["']?post/i.test(attrs)) continue;
    const action = /action\s*=\s*"([^"]*)"/i.exec(attrs)?.[1] ?? '';
    forms.push({ action, hasToken: /<input[^>]*name="_csrf"[^>]*value="[^"]+"/.test(m[2] ?? '') });
  }
  return forms;
}

/** A logger at `level` whose every line is kept in memory (as written, after pino's redaction). */
export function capturingLogger(level = 'trace'): { logger: Logger; lines: string[]; text: () => string } {
  const lines: string[] = [];
  const destination = new Writable({
    write(chunk: Buffer | string, _enc, cb) {
      lines.push(String(chunk));
      cb();
    },
  });
  return { logger: createLogger({ level, destination }), lines, text: () => lines.join('') };
}

/** An address from TEST-NET-3 (RFC 5737) nobody else in the run uses: each test gets rate-limit counts of its own. */
let ipSeq = 0;
export function uniqueIp(): string {
  ipSeq = (ipSeq + 1) % 250;
  return `203.0.${Math.floor(Math.random() * 250)}.${ipSeq + 1}`;
}

/** The HTML body of a page with its CSRF token and request id taken out, for "never shows X" checks. */
export function stripTokens(html: string): string {
  return html.replace(/name="_csrf" value="[^"]*"/g, '');
}
