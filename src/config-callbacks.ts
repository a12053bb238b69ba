// The settings of the callback inbox's upkeep and of the statement counters (INBOX_RETENTION_DAYS,
// REJECTED_CALLBACKS_PER_SOURCE_PER_HOUR, DB_COUNTERS), kept apart to keep config.ts short. Like config-tickets.ts it
// reads no environment: config.ts parses the keys below with the rest and hands the values in.
import { z } from 'zod';

const blank = (v: unknown) => (typeof v === 'string' && v.trim() === '' ? undefined : v);
const int = (def: number, min: number, max: number) => {
  const error = `use a whole number from ${min} to ${max}`;
  return z.preprocess(blank, z.coerce.number({ error }).int({ error }).min(min, { error }).max(max, { error }).default(def));
};

/** The keys, merged into config.ts's schema. */
export const callbacksEnvSchema = {
  DB_COUNTERS: z.preprocess(blank, z.enum(['on', 'off']).default('off')),
  INBOX_RETENTION_DAYS: int(90, 1, 36_500),
  REJECTED_CALLBACKS_PER_SOURCE_PER_HOUR: int(100, 0, 1_000_000),
};

export const CALLBACKS_FIX: Record<string, string> = { DB_COUNTERS: 'use on or off' };

type CallbacksEnv = { [K in keyof typeof callbacksEnvSchema]: z.infer<(typeof callbacksEnvSchema)[K]> };

export interface CallbacksConfig {
  /** DB_COUNTERS=on: GET /healthz/db-counters answers the statements and commits this process sent (the benchmark reads it). */
  dbCounters: boolean;
  /** INBOX_RETENTION_DAYS: inbox bodies of settled rows older than this are trimmed (payments/inbox-retention.ts). */
  inboxRetentionDays: number;
  /** REJECTED_CALLBACKS_PER_SOURCE_PER_HOUR: rejected callbacks stored per source address and hour; past it only counted. */
  rejectedCallbacksPerSourcePerHour: number;
}

export function callbacksSettings(e: CallbacksEnv): CallbacksConfig {
  return {
    dbCounters: e.DB_COUNTERS === 'on',
    inboxRetentionDays: e.INBOX_RETENTION_DAYS,
    rejectedCallbacksPerSourcePerHour: e.REJECTED_CALLBACKS_PER_SOURCE_PER_HOUR,
  };
}
