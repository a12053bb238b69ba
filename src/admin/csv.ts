import { once } from 'node:events';
import type { Response } from 'express';

/**
 * CSV as RFC 4180 writes it (quotes doubled, CRLF rows), made safe to open in a spreadsheet: a text cell that starts
 * with = + - @ (or a tab or CR, which some spreadsheets skip before reading a formula) is prefixed with a single quote,
 * so a customer who names themselves "=HYPERLINK(...)" gets text, not a formula (OWASP "CSV injection").
 */
export type CsvCell = string | number | null | undefined;

const FORMULA_START = /^[=+\-@\t\r]/;

export function csvCell(value: CsvCell): string {
  if (value === null || value === undefined) return '';
  // Numbers we produce (amounts, quantities, ids) are never negative and are written as they are.
  if (typeof value === 'number') return Number.isFinite(value) ? String(value) : '';
  let s = value;
  if (FORMULA_START.test(s)) s = `'${s}`;
  return /[",\r\n]/.test(s) || s !== value ? `"${s.replace(/"/g, '""')}"` : s;
}

export function csvRow(cells: readonly CsvCell[]): string {
  return `${cells.map(csvCell).join(',')}\r\n`;
}

/** Byte order mark: without it Excel reads UTF-8 as Windows-1252 and names like "Wanjirũ" come out garbled. */
export const CSV_BOM = '\uFEFF';

/**
 * Streams text chunks to the response, waiting when the socket is full and stopping when the client goes away. The
 * first chunk is produced before any header is sent, so a database that fails at once still gets the error page.
 */
export async function streamCsv(res: Response, filename: string, chunks: AsyncIterable<string>, onLateError: (err: unknown) => void): Promise<void> {
  const it = chunks[Symbol.asyncIterator]();
  const first = await it.next();
  res.status(200);
  res.setHeader('Content-Type', 'text/csv; charset=utf-8');
  res.setHeader('Content-Disposition', `attachment; filename="${filename}"`);
  res.setHeader('Cache-Control', 'no-store');
  res.setHeader('X-Content-Type-Options', 'nosniff');
  try {
    let r = first;
    while (!r.done) {
      if (res.destroyed) {
        await it.return?.();
        return;
      }
      if (!res.write(r.value)) await once(res, 'drain');
      r = await it.next();
    }
    res.end();
  } catch (err) {
    // The headers are gone; the only honest signal left is a broken download, never a 200 that looks complete.
    onLateError(err);
    res.destroy(err instanceof Error ? err : new Error(String(err)));
  }
}
