import { afterEach, describe, expect, it, vi } from 'vitest';
import { darajaTimestamp } from '../../../src/daraja/timestamp.js';
import { silentLogger } from '../../../src/simulator/daraja-protocol.js';
import { SANDBOX_PASSKEY } from '../../../src/simulator/index.js';
import { SimulatorService, type SimulatorSettings } from '../../../src/simulator/simulator.service.js';

const NOW = new Date('2025-05-14T17:12:01Z');
let service: SimulatorService | undefined;
afterEach(async () => {
  vi.useRealTimers();
  await service?.close();
});

function create(overrides: Partial<SimulatorSettings> = {}): SimulatorService {
  service = new SimulatorService({
    passkey: SANDBOX_PASSKEY, invalidatePreviousTokens: true, mode: 'manual', delayMs: 1000, promptSeconds: 60, strict: false, responseDelayMs: 0,
    merchantName: 'TIKITI', maxEntries: 10_000, callbackRetry: { attempts: 1, baseDelayMs: 1 }, holdMs: 1000,
    logger: silentLogger, now: () => NOW, ...overrides,
  });
  return service;
}

const body = (phone = 254712345678) => {
  const ts = darajaTimestamp(NOW);
  return {
    BusinessShortCode: 174379, Password: Buffer.from(`174379${SANDBOX_PASSKEY}${ts}`).toString('base64'), Timestamp: ts,
    TransactionType: 'CustomerPayBillOnline', Amount: 1, PartyA: phone, PartyB: 174379, PhoneNumber: phone,
    CallBackURL: 'http://127.0.0.1:1/cb', AccountReference: 'Tikiti',
  };
};

describe('SimulatorService', () => {
  it('when the clock says 20:12:01 Nairobi, then the CheckoutRequestID carries DDMMYYYYHHmmss in Nairobi time and the phone', () => {
    const { answer } = create().push(body());
    expect(answer.body.CheckoutRequestID).toBe('ws_CO_14052025201201001712345678');
  });

  it('when more than a thousand pushes go to one phone within the same second, then every CheckoutRequestID is still unique', () => {
    const sim = create();
    const ids = Array.from({ length: 2100 }, () => sim.push(body()).answer.body.CheckoutRequestID as string);
    expect(new Set(ids).size).toBe(2100);
    expect(ids[1000]).toBe('ws_CO_140520252012011001712345678');
  });

  it('when closed, then close() can be called again and no scheduled answer fires afterwards', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
    const sim = create({ mode: 'auto', delayMs: 20 });
    sim.push(body());
    expect(vi.getTimerCount()).toBe(1);
    await sim.close();
    await sim.close();
    expect(vi.getTimerCount()).toBe(0);
    vi.advanceTimersByTime(60);
    expect(sim.snapshot()[0]?.status).toBe('pending');
  });
});
