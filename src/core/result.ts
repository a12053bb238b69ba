/**
 * The one shape of an expected failure (a sold-out show, a refused form, a callback that is no longer unmatched):
 * services return it, routes switch over `error` exhaustively. Exceptions are kept for bugs and for rolling a
 * transaction back.
 */
export type Result<T, E> = Ok<T> | Err<E>;
export type Ok<T> = { ok: true; value: T };
export type Err<E> = { ok: false; error: E };

export const ok = <T>(value: T): Ok<T> => ({ ok: true, value });
export const err = <E>(error: E): Err<E> => ({ ok: false, error });

/** The default branch of an exhaustive switch: the compiler proves it is never reached. */
export function unreachable(value: never): never {
  throw new Error(`unexpected case: ${JSON.stringify(value)}`);
}
