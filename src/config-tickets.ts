// The settings of the ticket's way to the phone and through the door (SMS_PROVIDER and Africa's Talking, DOOR_USER
// and DOOR_PASSWORD), kept apart to keep config.ts short. Like simulator-settings.ts it reads no environment:
// config.ts parses the keys below with the rest and hands the values in.
import { z } from 'zod';

const blank = (v: unknown) => (typeof v === 'string' && v.trim() === '' ? undefined : v);
const optional = z.preprocess(blank, z.string().trim().optional());

/** The keys, merged into config.ts's schema. */
export const ticketsEnvSchema = {
  SMS_PROVIDER: z.preprocess(blank, z.enum(['log', 'africastalking', 'simulator']).optional()),
  AT_USERNAME: optional,
  AT_API_KEY: optional,
  AT_SENDER_ID: optional,
  AT_BASE_URL: optional,
  DOOR_USER: optional,
  DOOR_PASSWORD: optional,
};

export const TICKETS_FIX: Record<string, string> = { SMS_PROVIDER: 'use log, africastalking or simulator' };

type TicketsEnv = { [K in keyof typeof ticketsEnvSchema]?: z.infer<(typeof ticketsEnvSchema)[K]> };

export interface SmsConfig {
  provider: 'log' | 'africastalking' | 'simulator';
  /** Where Africa's Talking (or the simulator's look-alike) is reached; absent for `log`. */
  africastalking?: { baseUrl: string; username: string; apiKey: string; senderId?: string };
}

const AT_LIVE = 'https://api.africastalking.com';
const AT_SANDBOX = 'https://api.sandbox.africastalking.com';

/** SMS_PROVIDER and the door's account from the parsed keys; problems are added to `problems`, one line each. */
export function ticketsSettings(
  e: TicketsEnv,
  ctx: { isSimulator: boolean; mountSimulator: boolean; port: number },
  problems: string[],
): { sms: SmsConfig; door?: { user: string; password: string } } {
  // The look-alike is the built-in simulator's: with another emulator (DARAJA_BASE_URL) there is none, so the log.
  const provider = e.SMS_PROVIDER ?? (ctx.mountSimulator ? 'simulator' : 'log');
  let sms: SmsConfig = { provider };
  const base = e.AT_BASE_URL?.replace(/\/+$/, '');
  if (base) {
    try {
      if (!['http:', 'https:'].includes(new URL(base).protocol)) throw new Error('protocol');
    } catch {
      problems.push(`AT_BASE_URL=${JSON.stringify(e.AT_BASE_URL)} is not a URL: leave it unset for Africa's Talking itself.`);
    }
  }
  if (provider === 'africastalking') {
    if (!e.AT_USERNAME) problems.push("AT_USERNAME is required with SMS_PROVIDER=africastalking: your Africa's Talking app's username (sandbox for the sandbox).");
    if (!e.AT_API_KEY) problems.push("AT_API_KEY is required with SMS_PROVIDER=africastalking: generate one in your Africa's Talking account (Settings → API Key).");
    if (e.AT_USERNAME && e.AT_API_KEY) {
      sms = {
        provider,
        africastalking: {
          baseUrl: base ?? (e.AT_USERNAME === 'sandbox' ? AT_SANDBOX : AT_LIVE),
          username: e.AT_USERNAME,
          apiKey: e.AT_API_KEY,
          ...(e.AT_SENDER_ID ? { senderId: e.AT_SENDER_ID } : {}),
        },
      };
    }
  } else if (provider === 'simulator') {
    // The simulator's look-alike checks the shape of what is sent, not the key: placeholders do.
    const simBase = base ?? (ctx.mountSimulator ? `http://127.0.0.1:${ctx.port}/simulator/africastalking` : undefined);
    if (!simBase) {
      problems.push('SMS_PROVIDER=simulator needs the built-in simulator (DARAJA_ENV=simulator without DARAJA_BASE_URL) or AT_BASE_URL pointing at one, e.g. http://localhost:4000/africastalking.');
    } else {
      sms = {
        provider,
        africastalking: { baseUrl: simBase, username: e.AT_USERNAME ?? 'sandbox', apiKey: e.AT_API_KEY ?? 'simulator', ...(e.AT_SENDER_ID ? { senderId: e.AT_SENDER_ID } : {}) },
      };
    }
  }

  if ((e.DOOR_USER && !e.DOOR_PASSWORD) || (!e.DOOR_USER && e.DOOR_PASSWORD)) {
    problems.push('DOOR_USER and DOOR_PASSWORD go together: set both to turn /door on, or neither to keep it off.');
  }
  if (e.DOOR_PASSWORD && !ctx.isSimulator && e.DOOR_PASSWORD.length < 12) {
    problems.push('DOOR_PASSWORD must be at least 12 characters outside the simulator.');
  }
  const door = e.DOOR_USER && e.DOOR_PASSWORD ? { user: e.DOOR_USER, password: e.DOOR_PASSWORD } : undefined;
  return { sms, ...(door ? { door } : {}) };
}
