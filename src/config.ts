import { randomBytes } from 'node:crypto';
import { z } from 'zod';
import { PRODUCTION_BASE_URL, SANDBOX_BASE_URL, SANDBOX_PASSKEY, SANDBOX_SHORTCODE, forbiddenWordsIn, type DarajaEnv } from './daraja/constants.js';
import type { DarajaConfig } from './daraja/daraja.client.js';
import { initiatorEnvSchema, initiatorSettings } from './initiator-settings.js';
import { CALLBACKS_FIX, callbacksEnvSchema, callbacksSettings, type CallbacksConfig } from './config-callbacks.js';
import { TICKETS_FIX, ticketsEnvSchema, ticketsSettings, type SmsConfig } from './config-tickets.js';
import { parseOrigins, simulatorStatePath } from './simulator-settings.js';

/**
 * The only module that reads process.env. It parses everything once, checks the rules Safaricom enforces at start
 * (https callback, URL words, field lengths) and returns a frozen object; a bad value stops the start with one plain
 * line per problem naming the variable and the fix.
 */

export interface Config extends CallbacksConfig {
  port: number;
  databaseUrl: string;
  darajaEnv: DarajaEnv;
  /** True when the built-in simulator is mounted at /simulator (simulator mode without DARAJA_BASE_URL). */
  mountSimulator: boolean;
  /** Everything the Daraja client needs. */
  daraja: DarajaConfig;
  publicBaseUrl: string;
  callbackToken: string;
  callbackAllowedIps: string[];
  trustProxy: string | boolean | number;
  paymentTimeoutSeconds: number;
  reconcileIntervalSeconds: number;
  maxTicketsPerBooking: number;
  /** REFUNDS_PER_SECOND: reversals per second per instance at most (cancelled shows), under spike arrest. */
  refundsPerSecond: number;
  rateLimit: { windowSeconds: number; pushesPerPhone: number; bookingsPerIp: number };
  redisUrl?: string;
  smtpUrl?: string;
  mailFrom?: string;
  admin?: { user: string; password: string };
  /** SMS_PROVIDER and where it is reached (config-tickets.ts). */
  sms: SmsConfig;
  /** DOOR_USER and DOOR_PASSWORD; /door is off (404) without them. */
  door?: { user: string; password: string };
  simulator: {
    mode: 'manual' | 'auto';
    delayMs: number;
    /** A prompt nobody answers times out (1037) after this long. */
    promptSeconds: number;
    /** SIMULATOR_STRICT=on: refuse what the real Daraja may refuse, instead of warning. */
    strict: boolean;
    /** The origins the built-in simulator may post callbacks to: PUBLIC_BASE_URL's, unless SIMULATOR_CALLBACK_ORIGINS. */
    callbackOrigins: string[];
    /** Where the built-in simulator keeps its prompts and tokens across restarts. */
    statePath: string;
  };
  logLevel: string;
  /**
   * CSRF_SECRET, which signs the forms' CSRF tokens. Unset, the app makes one and keeps it in the database, so restarts
   * and every instance on that database use the same (compose.ts).
   */
  csrfSecret?: string;
  /**
   * DARAJA_ENV=production: real money. No demo movies are seeded, static files are cached. The one meaning of
   * "production" in the app: NODE_ENV is read only to refuse the simulator in a production deployment.
   */
  isProduction: boolean;
}

export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(`Configuration is not valid:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
    this.name = 'ConfigError';
  }
}

const blankToUndefined = (v: unknown) => (typeof v === 'string' && v.trim() === '' ? undefined : v);
const optionalString = z.preprocess(blankToUndefined, z.string().trim().optional());
const int = (def: number, min: number, max: number) => {
  // The message is the fix, whatever is wrong with the number (not one, a fraction, out of range).
  const error = `use a whole number from ${min} to ${max}`;
  return z.preprocess(blankToUndefined, z.coerce.number({ error }).int({ error }).min(min, { error }).max(max, { error }).default(def));
};

const schema = z.object({
  PORT: int(3000, 1, 65535),
  DATABASE_URL: z.preprocess(blankToUndefined, z.string().default('sqlite:./data/tikiti.db')),
  DARAJA_ENV: z.preprocess(blankToUndefined, z.enum(['simulator', 'sandbox', 'production']).default('simulator')),
  DARAJA_BASE_URL: optionalString,
  DARAJA_CONSUMER_KEY: optionalString,
  DARAJA_CONSUMER_SECRET: optionalString,
  DARAJA_PASSKEY: optionalString,
  DARAJA_SHORTCODE: optionalString,
  DARAJA_TRANSACTION_TYPE: z.preprocess(
    blankToUndefined,
    z.enum(['CustomerPayBillOnline', 'CustomerBuyGoodsOnline']).default('CustomerPayBillOnline'),
  ),
  DARAJA_PARTY_B: optionalString,
  DARAJA_TIMEOUT_MS: int(10_000, 100, 120_000),
  ...initiatorEnvSchema,
  ACCOUNT_REFERENCE: z.preprocess(blankToUndefined, z.string().default('Tikiti')),
  TRANSACTION_DESC: z.preprocess(blankToUndefined, z.string().default('Movie ticket')),
  PUBLIC_BASE_URL: optionalString,
  MPESA_CALLBACK_TOKEN: optionalString,
  MPESA_CALLBACK_ALLOWED_IPS: optionalString,
  TRUST_PROXY: z.preprocess(blankToUndefined, z.string().default('loopback')),
  PAYMENT_TIMEOUT_SECONDS: int(120, 1, 86_400),
  RECONCILE_INTERVAL_SECONDS: int(30, 1, 86_400),
  MAX_TICKETS_PER_BOOKING: int(10, 1, 1000),
  RATE_LIMIT_WINDOW_SECONDS: int(600, 1, 86_400),
  RATE_LIMIT_PUSHES_PER_PHONE: int(3, 1, 1_000_000),
  RATE_LIMIT_BOOKINGS_PER_IP: int(20, 1, 1_000_000),
  REDIS_URL: optionalString,
  SMTP_URL: optionalString,
  MAIL_FROM: optionalString,
  ADMIN_USER: optionalString,
  ADMIN_PASSWORD: optionalString,
  SIMULATOR_MODE: z.preprocess(blankToUndefined, z.enum(['manual', 'auto']).default('manual')),
  SIMULATOR_DELAY_MS: int(1500, 0, 600_000),
  SIMULATOR_PROMPT_SECONDS: int(60, 1, 86_400),
  SIMULATOR_STRICT: z.preprocess(blankToUndefined, z.enum(['on', 'off']).default('off')),
  SIMULATOR_PUBLIC: z.preprocess(blankToUndefined, z.enum(['on', 'off']).default('off')),
  SIMULATOR_CALLBACK_ORIGINS: optionalString,
  SIMULATOR_STATE_FILE: optionalString,
  // Read for one check only (the simulator in a production deployment); everywhere else "production" means
  // DARAJA_ENV=production, which is config.isProduction.
  NODE_ENV: optionalString,
  LOG_LEVEL: z.preprocess(
    blankToUndefined,
    z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  ),
  CSRF_SECRET: optionalString,
  ...callbacksEnvSchema,
  ...ticketsEnvSchema,
});

const FIX: Record<string, string> = {
  PORT: 'use a whole number from 1 to 65535',
  DARAJA_ENV: 'use simulator, sandbox or production',
  DARAJA_TRANSACTION_TYPE: 'use CustomerPayBillOnline or CustomerBuyGoodsOnline',
  SIMULATOR_MODE: 'use manual or auto',
  SIMULATOR_STRICT: 'use on or off',
  SIMULATOR_PUBLIC: 'use on or off',
  ...CALLBACKS_FIX,
  LOG_LEVEL: 'use fatal, error, warn, info, debug, trace or silent',
  ...TICKETS_FIX,
};

function parseTrustProxy(raw: string): string | boolean | number {
  if (raw === 'true') return true;
  if (raw === 'false') return false;
  if (/^\d+$/.test(raw)) return Number(raw);
  return raw;
}

/** The first word Safaricom refuses in URLs that this text contains (any case), if any. */
function forbiddenWordIn(url: string): string | undefined {
  return forbiddenWordsIn(url)[0];
}

const DARAJA_HOSTS = { sandbox: SANDBOX_BASE_URL, production: PRODUCTION_BASE_URL } as const;

/** Parses the environment (process.env by default) into a frozen Config, or throws ConfigError listing every problem. */
export function loadConfig(env: NodeJS.ProcessEnv = process.env): Readonly<Config> {
  // Two passes, one list: the values' types first, then the rules between them. A key whose type is wrong is checked
  // no further (its default stands in), so one start shows every problem instead of one pass's worth at a time.
  const problems: string[] = [];
  let parsed = schema.safeParse(env);
  if (!parsed.success) {
    const broken = new Set<string>();
    for (const issue of parsed.error.issues) {
      const key = String(issue.path[0] ?? 'environment');
      if (broken.has(key)) continue;
      broken.add(key);
      problems.push(`${key}=${JSON.stringify(env[key])} is not valid: ${FIX[key] ?? issue.message}.`);
    }
    parsed = schema.safeParse(Object.fromEntries(Object.entries(env).filter(([key]) => !broken.has(key))));
    if (!parsed.success) throw new ConfigError(problems);
  }
  const e = parsed.data;
  const darajaEnv = e.DARAJA_ENV;
  const isSimulator = darajaEnv === 'simulator';

  if (!/^sqlite:.+/.test(e.DATABASE_URL) && !/^mysql:\/\/.+/.test(e.DATABASE_URL)) {
    problems.push(
      `DATABASE_URL=${JSON.stringify(e.DATABASE_URL)} is not valid: use sqlite:PATH or mysql://user:pass@host:3306/db.`,
    );
  }

  const publicBaseUrl = (e.PUBLIC_BASE_URL ?? `http://localhost:${e.PORT}`).replace(/\/+$/, '');
  let publicUrlOk = true;
  try {
    const u = new URL(publicBaseUrl);
    if (!['http:', 'https:'].includes(u.protocol)) throw new Error('protocol');
  } catch {
    publicUrlOk = false;
    problems.push(`PUBLIC_BASE_URL=${JSON.stringify(e.PUBLIC_BASE_URL)} is not a URL: use e.g. https://abcd-1-2-3-4.ngrok-free.app.`);
  }
  if (publicUrlOk && !isSimulator && !publicBaseUrl.startsWith('https://')) {
    problems.push(
      `PUBLIC_BASE_URL must start with https:// when DARAJA_ENV=${darajaEnv}: Safaricom only posts callbacks to https (run ngrok http ${e.PORT} and use its https URL).`,
    );
  }

  let callbackToken = e.MPESA_CALLBACK_TOKEN;
  if (!callbackToken) {
    if (isSimulator) callbackToken = randomBytes(24).toString('hex');
    else problems.push(`MPESA_CALLBACK_TOKEN is required when DARAJA_ENV=${darajaEnv}: set 32 or more random characters, e.g. the output of: openssl rand -hex 24.`);
  } else {
    if (!/^[A-Za-z0-9_-]{32,}$/.test(callbackToken)) {
      problems.push('MPESA_CALLBACK_TOKEN must be at least 32 characters of A-Z a-z 0-9 _ -: generate one with openssl rand -hex 24.');
    }
    const word = forbiddenWordIn(callbackToken);
    if (word) problems.push(`MPESA_CALLBACK_TOKEN contains "${word}", a word Safaricom refuses in callback URLs: generate a hex one with openssl rand -hex 24.`);
  }

  if (!isSimulator) {
    if (!e.DARAJA_CONSUMER_KEY) problems.push(`DARAJA_CONSUMER_KEY is required when DARAJA_ENV=${darajaEnv}: copy it from your app on the Daraja portal.`);
    if (!e.DARAJA_CONSUMER_SECRET) problems.push(`DARAJA_CONSUMER_SECRET is required when DARAJA_ENV=${darajaEnv}: copy it from your app on the Daraja portal.`);
  }
  if (darajaEnv === 'production') {
    if (!e.DARAJA_PASSKEY) problems.push('DARAJA_PASSKEY is required when DARAJA_ENV=production: Safaricom emails it when the app goes live.');
    if (!e.DARAJA_SHORTCODE) problems.push('DARAJA_SHORTCODE is required when DARAJA_ENV=production: your paybill or till shortcode.');
  }
  const shortcode = e.DARAJA_SHORTCODE ?? SANDBOX_SHORTCODE;
  if (!/^\d{5,7}$/.test(shortcode)) problems.push(`DARAJA_SHORTCODE=${JSON.stringify(shortcode)} is not valid: a shortcode is 5 to 7 digits.`);
  const partyB = e.DARAJA_PARTY_B ?? shortcode;
  if (!/^\d{5,7}$/.test(partyB)) problems.push(`DARAJA_PARTY_B=${JSON.stringify(partyB)} is not valid: use the 5 to 7 digit paybill or till number.`);
  if (e.DARAJA_TRANSACTION_TYPE === 'CustomerBuyGoodsOnline' && !e.DARAJA_PARTY_B) {
    problems.push('DARAJA_PARTY_B is required with DARAJA_TRANSACTION_TYPE=CustomerBuyGoodsOnline: set it to your till number.');
  }

  if (e.ACCOUNT_REFERENCE.length > 12) {
    problems.push(`ACCOUNT_REFERENCE is ${e.ACCOUNT_REFERENCE.length} characters: Daraja allows at most 12 (longer ones fail with ResultCode 1025).`);
  }
  if (e.TRANSACTION_DESC.length > 13) {
    problems.push(`TRANSACTION_DESC is ${e.TRANSACTION_DESC.length} characters: Daraja allows at most 13.`);
  }

  let baseUrl: string;
  if (e.DARAJA_BASE_URL) {
    baseUrl = e.DARAJA_BASE_URL.replace(/\/+$/, '');
    try {
      const u = new URL(baseUrl);
      if (!isSimulator && u.protocol !== 'https:') {
        problems.push(`DARAJA_BASE_URL must be https when DARAJA_ENV=${darajaEnv}.`);
      }
    } catch {
      problems.push(`DARAJA_BASE_URL=${JSON.stringify(e.DARAJA_BASE_URL)} is not a URL.`);
    }
  } else if (isSimulator) {
    baseUrl = `http://127.0.0.1:${e.PORT}/simulator`;
  } else {
    baseUrl = DARAJA_HOSTS[darajaEnv];
  }

  const callbackUrl = `${publicBaseUrl}/api/payments/callback/${callbackToken ?? ''}`;
  const word = forbiddenWordIn(callbackUrl);
  if (word && callbackToken && !forbiddenWordIn(callbackToken)) {
    problems.push(`The callback URL ${publicBaseUrl}/api/payments/callback/… contains "${word}", which Safaricom refuses: choose a PUBLIC_BASE_URL without it.`);
  }

  const admin =
    e.ADMIN_USER && e.ADMIN_PASSWORD ? { user: e.ADMIN_USER, password: e.ADMIN_PASSWORD } : undefined;
  if ((e.ADMIN_USER && !e.ADMIN_PASSWORD) || (!e.ADMIN_USER && e.ADMIN_PASSWORD)) {
    problems.push('ADMIN_USER and ADMIN_PASSWORD go together: set both to turn /admin on, or neither to keep it off.');
  }
  if (e.ADMIN_PASSWORD && !isSimulator && e.ADMIN_PASSWORD.length < 12) {
    problems.push('ADMIN_PASSWORD must be at least 12 characters outside the simulator.');
  }
  if (e.SMTP_URL && !e.MAIL_FROM) problems.push('MAIL_FROM is required with SMTP_URL: the address notifications are sent from.');

  // A deployment (NODE_ENV=production, as in the Docker image) on the simulator takes no real money and, with the
  // simulator mounted, lets anyone who reaches it "pay": only when someone says it is meant (docs/adr/0027).
  if (isSimulator && e.NODE_ENV === 'production' && e.SIMULATOR_PUBLIC !== 'on') {
    problems.push('DARAJA_ENV=simulator with NODE_ENV=production: the simulator takes no real money and anyone who reaches it can pay any prompt. Set DARAJA_ENV=sandbox or production, or SIMULATOR_PUBLIC=on if a public demo is meant.');
  }
  const callbackOrigins = parseOrigins(e.SIMULATOR_CALLBACK_ORIGINS ?? '');
  if (callbackOrigins.bad.length > 0) {
    problems.push(`SIMULATOR_CALLBACK_ORIGINS has ${callbackOrigins.bad.map((b) => JSON.stringify(b)).join(', ')}, not http(s) URLs: list origins like http://localhost:3000, separated by commas.`);
  }

  const allowedIps = (e.MPESA_CALLBACK_ALLOWED_IPS ?? '').split(',').map((s) => s.trim()).filter(Boolean);

  const tickets = ticketsSettings(e, { isSimulator, mountSimulator: isSimulator && !e.DARAJA_BASE_URL, port: e.PORT }, problems);
  const initiator = initiatorSettings(e, { isSimulator, publicBaseUrl, callbackToken: callbackToken ?? '' }, problems);

  if (problems.length > 0) throw new ConfigError(problems);

  const config: Config = {
    port: e.PORT,
    databaseUrl: e.DATABASE_URL,
    darajaEnv,
    mountSimulator: isSimulator && !e.DARAJA_BASE_URL,
    daraja: {
      baseUrl,
      consumerKey: e.DARAJA_CONSUMER_KEY,
      consumerSecret: e.DARAJA_CONSUMER_SECRET,
      passkey: e.DARAJA_PASSKEY ?? SANDBOX_PASSKEY,
      shortcode,
      transactionType: e.DARAJA_TRANSACTION_TYPE,
      partyB,
      callbackUrl,
      accountReference: e.ACCOUNT_REFERENCE,
      transactionDesc: e.TRANSACTION_DESC,
      timeoutMs: e.DARAJA_TIMEOUT_MS,
      ...(initiator ? { initiator } : {}),
    },
    publicBaseUrl,
    callbackToken: callbackToken!,
    callbackAllowedIps: allowedIps,
    trustProxy: parseTrustProxy(e.TRUST_PROXY),
    ...callbacksSettings(e),
    paymentTimeoutSeconds: e.PAYMENT_TIMEOUT_SECONDS,
    reconcileIntervalSeconds: e.RECONCILE_INTERVAL_SECONDS,
    maxTicketsPerBooking: e.MAX_TICKETS_PER_BOOKING,
    refundsPerSecond: e.REFUNDS_PER_SECOND,
    rateLimit: {
      windowSeconds: e.RATE_LIMIT_WINDOW_SECONDS,
      pushesPerPhone: e.RATE_LIMIT_PUSHES_PER_PHONE,
      bookingsPerIp: e.RATE_LIMIT_BOOKINGS_PER_IP,
    },
    redisUrl: e.REDIS_URL,
    smtpUrl: e.SMTP_URL,
    mailFrom: e.MAIL_FROM,
    admin,
    ...tickets,
    simulator: {
      mode: e.SIMULATOR_MODE,
      delayMs: e.SIMULATOR_DELAY_MS,
      promptSeconds: e.SIMULATOR_PROMPT_SECONDS,
      strict: e.SIMULATOR_STRICT === 'on',
      callbackOrigins: callbackOrigins.origins.length > 0 ? callbackOrigins.origins : [new URL(publicBaseUrl).origin],
      statePath: e.SIMULATOR_STATE_FILE ?? simulatorStatePath(e.DATABASE_URL, e.PORT),
    },
    logLevel: e.LOG_LEVEL,
    csrfSecret: e.CSRF_SECRET,
    isProduction: darajaEnv === 'production',
  };
  return Object.freeze(config);
}

/** Loads .env (unless told not to, as the tests do) and then the config. */
export async function loadConfigFromEnvironment(): Promise<Readonly<Config>> {
  if (!process.env.TIKITI_NO_DOTENV) {
    const dotenv = await import('dotenv');
    dotenv.config({ quiet: true });
  }
  return loadConfig(process.env);
}
