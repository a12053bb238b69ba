/**
 * The logging this folder needs, in pino's shape (the fields first, then the message), so the app's pino logger fits
 * as it is and another app can pass pino, a console adapter or nothing. Declared here rather than taken from the app's
 * core, so that src/daraja stands alone (docs/daraja-client.md, "Using the client in another app").
 */
export interface DarajaLogger {
  debug(fields: Record<string, unknown>, message?: string): void;
  info(fields: Record<string, unknown>, message?: string): void;
  warn(fields: Record<string, unknown>, message?: string): void;
  error(fields: Record<string, unknown>, message?: string): void;
  /** A logger that adds `bindings` to every line; optional, the client logs through the same logger without it. */
  child?(bindings: Record<string, unknown>): DarajaLogger;
}

const nothing = () => {};

/** Drops everything: the default when no logger is given. */
export const silentLogger: DarajaLogger = { debug: nothing, info: nothing, warn: nothing, error: nothing };
