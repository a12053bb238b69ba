import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../../src/config.js';
import { configProblems } from '../../support/config.js';

const TOKEN = 'a'.repeat(20) + '0123456789AB';
const sandbox = {
  DARAJA_ENV: 'sandbox', DARAJA_CONSUMER_KEY: 'key', DARAJA_CONSUMER_SECRET: 'secret',
  PUBLIC_BASE_URL: 'https://abcd.ngrok-free.app', MPESA_CALLBACK_TOKEN: TOKEN,
};

describe('SMS and door settings', () => {
  it("when nothing is set, then SMS go to the built-in simulator's look-alike and the door is off", () => {
    const c = loadConfig({ PORT: '5210' });
    expect(c.sms).toEqual({ provider: 'simulator', africastalking: { baseUrl: 'http://127.0.0.1:5210/simulator/africastalking', username: 'sandbox', apiKey: 'simulator' } });
    expect(c.door).toBeUndefined();
  });

  it('when another emulator is used, or outside simulator mode, then SMS go to the log by default', () => {
    expect(loadConfig({ DARAJA_BASE_URL: 'http://127.0.0.1:4000' }).sms).toEqual({ provider: 'log' });
    expect(loadConfig(sandbox).sms).toEqual({ provider: 'log' });
  });

  it("when Africa's Talking is chosen, then username sandbox means its sandbox, any other its live API, and AT_BASE_URL wins", () => {
    const at = { SMS_PROVIDER: 'africastalking', AT_API_KEY: 'k' };
    expect(loadConfig({ ...sandbox, ...at, AT_USERNAME: 'sandbox' }).sms.africastalking?.baseUrl).toBe('https://api.sandbox.africastalking.com');
    expect(loadConfig({ ...sandbox, ...at, AT_USERNAME: 'tikiti', AT_SENDER_ID: 'TIKITI' }).sms.africastalking)
      .toEqual({ baseUrl: 'https://api.africastalking.com', username: 'tikiti', apiKey: 'k', senderId: 'TIKITI' });
    expect(loadConfig({ ...sandbox, ...at, AT_USERNAME: 'tikiti', AT_BASE_URL: 'http://127.0.0.1:9/' }).sms.africastalking?.baseUrl).toBe('http://127.0.0.1:9');
  });

  it('when a setting is missing or wrong, then each problem is named with its fix', () => {
    expect(configProblems({ ...sandbox, SMS_PROVIDER: 'africastalking' })).toEqual([
      "AT_USERNAME is required with SMS_PROVIDER=africastalking: your Africa's Talking app's username (sandbox for the sandbox).",
      "AT_API_KEY is required with SMS_PROVIDER=africastalking: generate one in your Africa's Talking account (Settings → API Key).",
    ]);
    expect(configProblems({ SMS_PROVIDER: 'sms' })[0]).toBe('SMS_PROVIDER="sms" is not valid: use log, africastalking or simulator.');
    expect(configProblems({ ...sandbox, SMS_PROVIDER: 'simulator' })[0]).toMatch(/^SMS_PROVIDER=simulator needs the built-in simulator/);
    expect(configProblems({ DOOR_USER: 'door' })).toEqual(['DOOR_USER and DOOR_PASSWORD go together: set both to turn /door on, or neither to keep it off.']);
    expect(configProblems({ ...sandbox, DOOR_USER: 'door', DOOR_PASSWORD: 'short' })).toEqual(['DOOR_PASSWORD must be at least 12 characters outside the simulator.']);
    expect(loadConfig({ DOOR_USER: 'door', DOOR_PASSWORD: 'pw' }).door).toEqual({ user: 'door', password: 'pw' });
  });
});
