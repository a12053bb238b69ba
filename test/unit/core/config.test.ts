import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../../src/config.js';
import { configProblems } from '../../support/config.js';

const TOKEN = 'a'.repeat(20) + '0123456789AB';
const sandbox = {
  DARAJA_ENV: 'sandbox',
  DARAJA_CONSUMER_KEY: 'key',
  DARAJA_CONSUMER_SECRET: 'secret',
  PUBLIC_BASE_URL: 'https://abcd.ngrok-free.app',
  MPESA_CALLBACK_TOKEN: TOKEN,
};

describe('config', () => {
  it('when nothing is set, then it runs on SQLite with the built-in simulator on port 3000', () => {
    const c = loadConfig({});
    expect(c.port).toBe(3000);
    expect(c.databaseUrl).toBe('sqlite:./data/tikiti.db');
    expect(c.darajaEnv).toBe('simulator');
    expect(c.mountSimulator).toBe(true);
    expect(c.daraja.baseUrl).toBe('http://127.0.0.1:3000/simulator');
    expect(c.daraja.shortcode).toBe('174379');
    expect(c.daraja.partyB).toBe('174379');
    expect(c.daraja.transactionType).toBe('CustomerPayBillOnline');
    expect(c.daraja.timeoutMs).toBe(10_000);
    expect(c.daraja.accountReference).toBe('Tikiti');
    expect(c.daraja.transactionDesc).toBe('Movie ticket');
    expect(c.publicBaseUrl).toBe('http://localhost:3000');
    expect(c.callbackToken).toMatch(/^[0-9a-f]{48}$/);
    expect(c.daraja.callbackUrl).toBe(`http://localhost:3000/api/payments/callback/${c.callbackToken}`);
    expect(c.paymentTimeoutSeconds).toBe(120);
    expect(c.reconcileIntervalSeconds).toBe(30);
    expect(c.maxTicketsPerBooking).toBe(10);
    expect(c.rateLimit).toEqual({ windowSeconds: 600, pushesPerPhone: 3, bookingsPerIp: 20 });
    expect(c.admin).toBeUndefined();
    expect(c.simulator).toMatchObject({
      mode: 'manual', delayMs: 1500, promptSeconds: 60, strict: false, callbackOrigins: ['http://localhost:3000'],
      statePath: expect.stringMatching(/[/\\]data[/\\]simulator-state-3000\.jsonl$/),
    });
    expect(Object.isFrozen(c)).toBe(true);
  });

  it('when two starts happen in simulator mode, then each gets its own random callback token', () => {
    expect(loadConfig({}).callbackToken).not.toBe(loadConfig({}).callbackToken);
  });

  it('when DARAJA_BASE_URL is set in simulator mode, then the built-in simulator is not mounted and http is allowed', () => {
    const c = loadConfig({ DARAJA_BASE_URL: 'http://localhost:4000/' });
    expect(c.mountSimulator).toBe(false);
    expect(c.daraja.baseUrl).toBe('http://localhost:4000');
  });

  it('when sandbox is configured completely, then it points at the sandbox host', () => {
    const c = loadConfig(sandbox);
    expect(c.daraja.baseUrl).toBe('https://sandbox.safaricom.co.ke');
    expect(c.mountSimulator).toBe(false);
    expect(c.daraja.callbackUrl).toBe(`https://abcd.ngrok-free.app/api/payments/callback/${TOKEN}`);
  });

  it('when PUBLIC_BASE_URL is http outside the simulator, then the start is refused with the fix', () => {
    const p = configProblems({ ...sandbox, PUBLIC_BASE_URL: 'http://example.com' });
    expect(p).toHaveLength(1);
    expect(p[0]).toMatch(/^PUBLIC_BASE_URL must start with https:\/\/ when DARAJA_ENV=sandbox/);
  });

  it('when ACCOUNT_REFERENCE and TRANSACTION_DESC are too long, then each gets its own line', () => {
    const p = configProblems({ ACCOUNT_REFERENCE: 'ThirteenChars', TRANSACTION_DESC: 'Fourteen chars' });
    expect(p).toEqual([
      expect.stringMatching(/^ACCOUNT_REFERENCE is 13 characters: Daraja allows at most 12/),
      expect.stringMatching(/^TRANSACTION_DESC is 14 characters: Daraja allows at most 13/),
    ]);
  });

  it.each(['mpesa', 'MPesa', 'm-pesa', 'Safaricom', 'exe', 'cmd', 'SQL', 'query'])(
    'when the callback URL contains %s, then the start is refused',
    (word) => {
      const p = configProblems({ ...sandbox, PUBLIC_BASE_URL: `https://${word}.example.com` });
      expect(p.join('\n')).toMatch(/Safaricom refuses/);
    },
  );

  it('when the callback token is short, has bad characters or a forbidden word, then it is refused', () => {
    expect(configProblems({ ...sandbox, MPESA_CALLBACK_TOKEN: 'short' })[0]).toMatch(/^MPESA_CALLBACK_TOKEN must be at least 32/);
    expect(configProblems({ ...sandbox, MPESA_CALLBACK_TOKEN: `${TOKEN}/x` })[0]).toMatch(/^MPESA_CALLBACK_TOKEN must be/);
    expect(configProblems({ ...sandbox, MPESA_CALLBACK_TOKEN: `${TOKEN}sqlx` })[0]).toMatch(/contains "sql"/);
  });

  it('when sandbox credentials and token are missing, then each missing variable is named', () => {
    const p = configProblems({ DARAJA_ENV: 'sandbox', PUBLIC_BASE_URL: 'https://x.example.com' });
    expect(p).toEqual([
      expect.stringMatching(/^MPESA_CALLBACK_TOKEN is required/),
      expect.stringMatching(/^DARAJA_CONSUMER_KEY is required/),
      expect.stringMatching(/^DARAJA_CONSUMER_SECRET is required/),
    ]);
  });

  it('when production lacks passkey and shortcode, then both are named', () => {
    const p = configProblems({ ...sandbox, DARAJA_ENV: 'production' });
    expect(p).toEqual([
      expect.stringMatching(/^DARAJA_PASSKEY is required when DARAJA_ENV=production/),
      expect.stringMatching(/^DARAJA_SHORTCODE is required when DARAJA_ENV=production/),
    ]);
  });

  it('when a value has the wrong type, then the line names the variable, the value and the fix', () => {
    expect(configProblems({ PORT: 'eighty' })).toEqual(['PORT="eighty" is not valid: use a whole number from 1 to 65535.']);
    expect(configProblems({ RATE_LIMIT_WINDOW_SECONDS: '0' })).toEqual(['RATE_LIMIT_WINDOW_SECONDS="0" is not valid: use a whole number from 1 to 86400.']);
    expect(configProblems({ MAX_TICKETS_PER_BOOKING: '2.5' })).toEqual(['MAX_TICKETS_PER_BOOKING="2.5" is not valid: use a whole number from 1 to 1000.']);
    expect(configProblems({ DARAJA_ENV: 'live' })[0]).toBe('DARAJA_ENV="live" is not valid: use simulator, sandbox or production.');
    expect(configProblems({ DATABASE_URL: 'postgres://x' })[0]).toMatch(/^DATABASE_URL="postgres:\/\/x" is not valid: use sqlite:PATH or mysql:/);
  });

  it('when values of the wrong type come with problems between values, then one list holds them all, types first', () => {
    expect(configProblems({ PORT: 'abc', ACCOUNT_REFERENCE: 'TikitiCinemas', TRANSACTION_DESC: 'Movie tickets!' })).toEqual([
      'PORT="abc" is not valid: use a whole number from 1 to 65535.',
      'ACCOUNT_REFERENCE is 13 characters: Daraja allows at most 12 (longer ones fail with ResultCode 1025).',
      'TRANSACTION_DESC is 14 characters: Daraja allows at most 13.',
    ]);
    const p = configProblems({ ...sandbox, DARAJA_TIMEOUT_MS: '5 s', LOG_LEVEL: 'loud', PUBLIC_BASE_URL: 'http://abcd.ngrok-free.app', DARAJA_CONSUMER_SECRET: '' });
    expect(p).toEqual([
      'DARAJA_TIMEOUT_MS="5 s" is not valid: use a whole number from 100 to 120000.',
      'LOG_LEVEL="loud" is not valid: use fatal, error, warn, info, debug, trace or silent.',
      expect.stringMatching(/^PUBLIC_BASE_URL must start with https:\/\/ when DARAJA_ENV=sandbox/),
      expect.stringMatching(/^DARAJA_CONSUMER_SECRET is required when DARAJA_ENV=sandbox/),
    ]);
  });

  it('when BuyGoods is chosen without a till, then PARTY_B is asked for; with one, it is PartyB', () => {
    expect(configProblems({ DARAJA_TRANSACTION_TYPE: 'CustomerBuyGoodsOnline' })[0]).toMatch(/^DARAJA_PARTY_B is required/);
    const c = loadConfig({ DARAJA_TRANSACTION_TYPE: 'CustomerBuyGoodsOnline', DARAJA_PARTY_B: '5566778' });
    expect(c.daraja.partyB).toBe('5566778');
    expect(c.daraja.shortcode).toBe('174379');
  });

  it('when only one of ADMIN_USER and ADMIN_PASSWORD is set, then the start is refused', () => {
    expect(configProblems({ ADMIN_USER: 'ops' })[0]).toMatch(/^ADMIN_USER and ADMIN_PASSWORD go together/);
    expect(loadConfig({ ADMIN_USER: 'ops', ADMIN_PASSWORD: 'pw' }).admin).toEqual({ user: 'ops', password: 'pw' });
  });

  it('when MPESA_CALLBACK_ALLOWED_IPS is a comma list, then it is split and trimmed', () => {
    expect(loadConfig({ MPESA_CALLBACK_ALLOWED_IPS: ' 196.201.214.200, 196.201.214.206 ,' }).callbackAllowedIps).toEqual([
      '196.201.214.200',
      '196.201.214.206',
    ]);
  });
});
