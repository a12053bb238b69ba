import type { z } from 'zod';

/**
 * One error base for the whole app. `code` is stable UPPER_SNAKE for logs and tests; `status` is the HTTP status a
 * route should answer with; `publicMessage` is safe to show a customer (never SQL, stacks or secrets).
 */
export class AppError extends Error {
  readonly code: string;
  readonly status: number;
  readonly publicMessage: string;
  /** Sent as Retry-After with a 429 or 503: when asking again may succeed. */
  readonly retryAfterSeconds?: number;

  constructor(
    code: string,
    message: string,
    opts: { status?: number; publicMessage?: string; cause?: unknown; retryAfterSeconds?: number } = {},
  ) {
    super(message, opts.cause === undefined ? undefined : { cause: opts.cause });
    this.name = new.target.name;
    this.code = code;
    this.status = opts.status ?? 500;
    this.publicMessage = opts.publicMessage ?? 'Something went wrong on our side. Please try again.';
    if (opts.retryAfterSeconds !== undefined) this.retryAfterSeconds = opts.retryAfterSeconds;
  }
}

/** How long a client is asked to wait while the database is away. */
export const DATABASE_RETRY_AFTER_SECONDS = 60;

/**
 * The database cannot be reached (or is not migrated yet, at start): a 503 that asks to come back, never a 500.
 * Nothing a customer did is lost: what was committed stays, and payment callbacks are kept in the spool meanwhile.
 */
export class DatabaseUnavailableError extends AppError {
  constructor(cause?: unknown) {
    super('DATABASE_UNAVAILABLE', 'the database cannot be reached', {
      status: 503,
      cause,
      retryAfterSeconds: DATABASE_RETRY_AFTER_SECONDS,
      publicMessage:
        'Tikiti cannot reach its database for a moment. Nothing is lost: a payment you have made is still recorded and will show on your ticket. Please try again in a minute.',
    });
  }
}

export class NotFoundError extends AppError {
  constructor(what = 'page') {
    super('NOT_FOUND', `${what} not found`, { status: 404, publicMessage: `We could not find that ${what}.` });
  }
}

/** Input that failed validation: `fields` maps a form field to its message. */
export class ValidationError extends AppError {
  readonly fields: Record<string, string>;
  constructor(fields: Record<string, string>, message = 'Please correct the highlighted fields.') {
    super('VALIDATION_FAILED', message, { status: 422, publicMessage: message });
    this.fields = fields;
  }
}

export class ConflictError extends AppError {
  constructor(code: string, publicMessage: string) {
    super(code, publicMessage, { status: 409, publicMessage });
  }
}

/** zod issues → one message per field (the first for each), for a 422 form or JSON. */
export function fieldErrors(error: z.ZodError): Record<string, string> {
  const fields: Record<string, string> = {};
  for (const issue of error.issues) {
    const key = String(issue.path[0] ?? '_');
    fields[key] ??= issue.message;
  }
  return fields;
}
