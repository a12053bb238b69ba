/**
 * An expected failure as a value: the same shape as the app's src/core/result.ts, repeated here (five lines) so that
 * src/daraja imports nothing outside itself. A value of one is a value of the other.
 */
export type Result<T, E> = { ok: true; value: T } | { ok: false; error: E };
