import { AppError } from '../core/errors.js';
import type { TimeKey } from '../store/ticket-lists.repository.js';

/**
 * Keyset ("seek") pagination: a page link carries the sort key of the last row shown, and the next page starts after
 * it. Unlike OFFSET, the database never walks the rows already shown, so page 20 000 costs what page 1 costs.
 */

const STORED_TIME = /^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}(\.\d{1,6})?$/;

export class BadCursorError extends AppError {
  constructor() {
    super('BAD_CURSOR', 'page cursor is not valid', {
      status: 400,
      publicMessage: 'That page link is broken or out of date. Start again from the first page.',
    });
  }
}

/** An opaque token for (time, id): base64url, so it survives any URL and reads as nothing in particular. */
export function encodeTimeKey(key: TimeKey): string {
  return Buffer.from(`${key.at}|${key.id}`, 'utf8').toString('base64url');
}

/** The key back from a token; throws BadCursorError (400) for anything that is not one of ours. */
export function decodeTimeKey(token: string): TimeKey {
  if (!/^[A-Za-z0-9_-]{1,80}$/.test(token)) throw new BadCursorError();
  const [at, id, extra] = Buffer.from(token, 'base64url').toString('utf8').split('|');
  const n = Number(id);
  if (extra !== undefined || !at || !STORED_TIME.test(at) || !Number.isSafeInteger(n) || n < 1 || String(n) !== id) {
    throw new BadCursorError();
  }
  return { at, id: n };
}

/** Ids alone (the inbox pages by callbackId): a positive integer in the URL. */
export function decodeIdCursor(token: string): number {
  const n = Number(token);
  if (!/^\d{1,15}$/.test(token) || !Number.isSafeInteger(n) || n < 1) throw new BadCursorError();
  return n;
}
