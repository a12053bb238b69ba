import { pino, type DestinationStream, type Logger, type LoggerOptions } from 'pino';

export type { Logger };

/**
 * Paths pino blanks out wherever they appear. Secrets also never get passed to the logger on purpose; this is the
 * second line of defence.
 */
export const REDACT_PATHS = [
  'req.headers.authorization',
  'req.headers.cookie',
  'res.headers["set-cookie"]',
  'headers.authorization',
  'headers.Authorization',
  'authorization',
  'Authorization',
  'password',
  'Password',
  'consumerSecret',
  'passkey',
  'accessToken',
  'access_token',
  'token',
  'callbackToken',
  '*.password',
  '*.Password',
  '*.consumerSecret',
  '*.passkey',
  '*.accessToken',
  '*.access_token',
  '*.callbackToken',
];

export function createLogger(opts: { level?: string; pretty?: boolean; destination?: NodeJS.WritableStream } = {}): Logger {
  const options: LoggerOptions = {
    level: opts.level ?? 'info',
    redact: { paths: REDACT_PATHS, censor: '[redacted]' },
  };
  if (opts.destination) return pino(options, opts.destination as DestinationStream);
  if (opts.pretty) {
    return pino({ ...options, transport: { target: 'pino-pretty', options: { colorize: true, translateTime: 'SYS:HH:MM:ss' } } });
  }
  return pino(options);
}

/** A logger that drops everything: the default for library code and tests that do not look at logs. */
export const silentLogger: Logger = pino({ level: 'silent' });
