import request from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { darajaTimestamp } from '../../../src/core/time.js';
import { getToken, password, push, pushBody, query, startSimulator, type RunningSimulator } from './helpers.js';

const envelope = (errorCode: string, errorMessage: string) => ({
  requestId: expect.stringMatching(/^[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\d+$/),
  errorCode,
  errorMessage,
});

describe('the token endpoint, with credentials configured', () => {
  let s: RunningSimulator;
  beforeAll(async () => {
    s = await startSimulator({ consumerKey: 'my-key', consumerSecret: 'my-secret' });
  });
  afterAll(() => s.close());

  const generate = () => request(s.base).get('/oauth/v1/generate?grant_type=client_credentials');

  it('when the Basic credentials match, then a token valid 3599 s comes back', async () => {
    const res = await generate().auth('my-key', 'my-secret').expect(200);
    expect(res.body).toEqual({ access_token: expect.stringMatching(/^[A-Za-z0-9]{28}$/), expires_in: '3599' });
  });

  it.each([
    ['no Authorization header', undefined],
    ['a wrong secret', `Basic ${Buffer.from('my-key:wrong').toString('base64')}`],
    ['a garbled Basic value', 'Basic %%%not-base64'],
    ['a Bearer header instead of Basic', 'Bearer abc'],
  ])('when it is called with %s, then HTTP 400 400.008.01 "Invalid Authentication passed"', async (_why, header) => {
    const req = generate();
    if (header) req.set('authorization', header);
    const res = await req.expect(400);
    expect(res.body).toEqual(envelope('400.008.01', 'Invalid Authentication passed'));
  });

  it.each([
    ['missing', '/oauth/v1/generate'],
    ['wrong', '/oauth/v1/generate?grant_type=password'],
  ])('when grant_type is %s, then HTTP 400 400.008.02 "Invalid grant type passed"', async (_why, path) => {
    const res = await request(s.base).get(path).auth('my-key', 'my-secret').expect(400);
    expect(res.body).toEqual(envelope('400.008.02', 'Invalid grant type passed'));
  });

  it('when a second token is fetched, then the first answers 404.001.03 and the second works', async () => {
    const first = await getToken(s.base, 'my-key', 'my-secret');
    const second = await getToken(s.base, 'my-key', 'my-secret');
    const withFirst = await request(s.base).post('/mpesa/stkpush/v1/processrequest').set('authorization', `Bearer ${first}`).send(pushBody());
    expect(withFirst.status).toBe(404);
    expect(withFirst.body).toEqual(envelope('404.001.03', 'Invalid Access Token'));
    const withSecond = await request(s.base).post('/mpesa/stkpush/v1/processrequest').set('authorization', `Bearer ${second}`).send(pushBody());
    expect(withSecond.status).toBe(200);
    expect(withSecond.body.ResponseCode).toBe('0');
  });
});

describe('the token endpoint, without credentials configured', () => {
  let s: RunningSimulator;
  beforeAll(async () => {
    s = await startSimulator();
  });
  afterAll(() => s.close());

  it('when no Authorization header is sent, then 400.008.01, as Daraja answers', async () => {
    const res = await request(s.base).get('/oauth/v1/generate?grant_type=client_credentials').expect(400);
    expect(res.body).toEqual(envelope('400.008.01', 'Invalid Authentication passed'));
  });

  it('when any Basic key and secret are sent, then a token comes back', async () => {
    const res = await request(s.base).get('/oauth/v1/generate?grant_type=client_credentials').auth('anything', 'at all').expect(200);
    expect(res.body.expires_in).toBe('3599');
  });

  it('when the header is not Basic, then 400.008.01 still', async () => {
    const res = await request(s.base).get('/oauth/v1/generate?grant_type=client_credentials').set('authorization', 'Token x').expect(400);
    expect(res.body.errorCode).toBe('400.008.01');
  });

  it('when invalidatePreviousTokens is false, then an earlier token keeps working', async () => {
    const lenient = await startSimulator({ invalidatePreviousTokens: false });
    try {
      const first = await getToken(lenient.base);
      await getToken(lenient.base);
      const res = await push(lenient.base, {}, first);
      expect(res.body.ResponseCode).toBe('0');
    } finally {
      await lenient.close();
    }
  });
});

describe('bearer tokens, paths and methods', () => {
  let s: RunningSimulator;
  beforeAll(async () => {
    s = await startSimulator();
  });
  afterAll(() => s.close());

  it.each([
    ['no Authorization header', undefined],
    ['an unknown token', 'Bearer not-a-token'],
    ['Basic credentials', `Basic ${Buffer.from('a:b').toString('base64')}`],
  ])('when the push is sent with %s, then HTTP 404 404.001.03 "Invalid Access Token"', async (_why, header) => {
    const req = request(s.base).post('/mpesa/stkpush/v1/processrequest').send(pushBody());
    if (header) req.set('authorization', header);
    const res = await req.expect(404);
    expect(res.body).toEqual(envelope('404.001.03', 'Invalid Access Token'));
    expect(s.sim.prompts()).toHaveLength(0);
  });

  it('when the query is sent without a token, then 404.001.03', async () => {
    const res = await request(s.base).post('/mpesa/stkpushquery/v1/query').send({}).expect(404);
    expect(res.body).toEqual(envelope('404.001.03', 'Invalid Access Token'));
  });

  it('when a path does not exist, then HTTP 404 404.001.01 "Resource not found"', async () => {
    const res = await request(s.base).post('/mpesa/stkpush/v2/processrequest').expect(404);
    expect(res.body).toEqual(envelope('404.001.01', 'Resource not found'));
  });

  it('when the push path is called with GET, then HTTP 405 405.001', async () => {
    const res = await request(s.base).get('/mpesa/stkpush/v1/processrequest').expect(405);
    expect(res.body).toEqual(envelope('405.001', 'Method not allowed'));
  });

  it('when the body is not valid JSON, then HTTP 400 with the envelope', async () => {
    const token = await getToken(s.base);
    const res = await request(s.base)
      .post('/mpesa/stkpush/v1/processrequest')
      .set('authorization', `Bearer ${token}`)
      .set('content-type', 'application/json')
      .send('{"BusinessShortCode": ')
      .expect(400);
    expect(res.body).toEqual(envelope('400.002.02', 'Bad Request - Invalid JSON payload'));
  });
});

describe('STK push', () => {
  let s: RunningSimulator;
  beforeAll(async () => {
    s = await startSimulator();
  });
  afterAll(() => s.close());

  it('when the push is valid, then Daraja\'s acknowledgement comes back and a pending prompt exists', async () => {
    const res = await push(s.base, { PhoneNumber: 254712345678, PartyA: 254712345678, Amount: '45' });
    expect(res.status).toBe(200);
    expect(res.body).toEqual({
      MerchantRequestID: expect.stringMatching(/^[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\d+$/),
      CheckoutRequestID: expect.stringMatching(/^ws_CO_\d{14}\d{3}712345678$/),
      ResponseCode: '0',
      ResponseDescription: 'Success. Request accepted for processing',
      CustomerMessage: 'Success. Request accepted for processing',
    });
    const prompt = s.sim.prompts().find((p) => p.checkoutRequestId === res.body.CheckoutRequestID);
    expect(prompt).toMatchObject({
      status: 'pending', phoneNumber: '254712345678', amount: 45, accountReference: 'Tikiti', automatic: false,
      merchantRequestId: res.body.MerchantRequestID,
    });
  });

  it('when two pushes go to the same phone in the same second, then their CheckoutRequestIDs differ', async () => {
    const token = await getToken(s.base);
    const [a, b] = await Promise.all([push(s.base, {}, token), push(s.base, {}, token)]);
    expect(a.body.CheckoutRequestID).not.toBe(b.body.CheckoutRequestID);
  });

  it('when a field is invalid, then HTTP 400 with Daraja\'s envelope naming it, and no prompt', async () => {
    const before = s.sim.prompts().length;
    const res = await push(s.base, { PartyA: 254712345678, PhoneNumber: '0712345678' });
    expect(res.status).toBe(400);
    expect(res.body).toEqual(envelope('400.002.02', 'Bad Request - Invalid PhoneNumber'));
    expect(s.sim.prompts()).toHaveLength(before);
  });

  it('when the Timestamp is UTC rather than Nairobi time, then the push is accepted and its prompt carries the warning', async () => {
    const utc = new Date().toISOString().replace(/\D/g, '').slice(0, 14);
    const res = await push(s.base, { Timestamp: utc, Password: password(utc) });
    expect(res.status).toBe(200);
    const prompt = s.sim.prompts().find((p) => p.checkoutRequestId === res.body.CheckoutRequestID);
    expect(prompt?.warnings).toStrictEqual([expect.stringMatching(/^the real Daraja may refuse this: Timestamp \d{14} is 180 minutes behind Nairobi time \(UTC\+3\); it looks like UTC\.$/)]);
  });

  it('when strict and the Timestamp is UTC, then "Bad Request - Invalid Timestamp" and no prompt', async () => {
    const strict = await startSimulator({ strict: true });
    try {
      const utc = new Date().toISOString().replace(/\D/g, '').slice(0, 14);
      const res = await push(strict.base, { Timestamp: utc, Password: password(utc) });
      expect(res.status).toBe(400);
      expect(res.body).toEqual(envelope('400.002.02', 'Bad Request - Invalid Timestamp'));
      expect(strict.sim.prompts()).toHaveLength(0);
    } finally {
      await strict.close();
    }
  });

  it('when the Password does not match the passkey, then HTTP 500 500.001.1001 "Wrong credentials"', async () => {
    const ts = darajaTimestamp();
    const res = await push(s.base, { Timestamp: ts, Password: password(ts, '174379', 'not-the-passkey') });
    expect(res.status).toBe(500);
    expect(res.body).toEqual(envelope('500.001.1001', 'Wrong credentials'));
  });

  it('when the simulator has its own passkey, then passwords built with the sandbox passkey are refused', async () => {
    const own = await startSimulator({ passkey: 'my-own-passkey' });
    try {
      expect((await push(own.base)).body.errorMessage).toBe('Wrong credentials');
      const ts = darajaTimestamp();
      const ok = await push(own.base, { Timestamp: ts, Password: password(ts, '174379', 'my-own-passkey') });
      expect(ok.body.ResponseCode).toBe('0');
    } finally {
      await own.close();
    }
  });

  it('when shortcodes are configured and the push names another, then 500.001.1001 "Merchant does not exist"', async () => {
    const strict = await startSimulator({ shortcodes: ['600000'] });
    try {
      const res = await push(strict.base);
      expect(res.status).toBe(500);
      expect(res.body).toEqual(envelope('500.001.1001', 'Merchant does not exist'));
    } finally {
      await strict.close();
    }
  });
});

describe('STK query', () => {
  let s: RunningSimulator;
  beforeAll(async () => {
    s = await startSimulator();
  });
  afterAll(() => s.close());

  it('when the CheckoutRequestID is unknown, then HTTP 400 "Bad Request - Invalid CheckoutRequestID"', async () => {
    const res = await query(s.base, 'ws_CO_000000000000000000000000');
    expect(res.status).toBe(400);
    expect(res.body).toEqual(envelope('400.002.02', 'Bad Request - Invalid CheckoutRequestID'));
  });

  it('when the prompt is pending, then HTTP 500 500.001.1001 "The transaction is being processed"', async () => {
    const { body } = await push(s.base);
    const res = await query(s.base, body.CheckoutRequestID);
    expect(res.status).toBe(500);
    expect(res.body).toEqual(envelope('500.001.1001', 'The transaction is being processed'));
  });

  it('when the query Password is wrong, then "Wrong credentials"', async () => {
    const token = await getToken(s.base);
    const ts = darajaTimestamp();
    const res = await request(s.base)
      .post('/mpesa/stkpushquery/v1/query')
      .set('authorization', `Bearer ${token}`)
      .send({ BusinessShortCode: 174379, Password: password(ts, '174379', 'nope'), Timestamp: ts, CheckoutRequestID: 'x' });
    expect(res.status).toBe(500);
    expect(res.body).toEqual(envelope('500.001.1001', 'Wrong credentials'));
  });

  it('when the prompt was answered on the phone, then the query gives ResultCode as a string and ResultDesc', async () => {
    const { body } = await push(s.base);
    await request(s.base).post(`/phone/prompts/${body.CheckoutRequestID}/cancel`).expect(303);
    const res = await query(s.base, body.CheckoutRequestID);
    expect(res.status).toBe(200);
    expect(res.body).toEqual({
      ResponseCode: '0',
      ResponseDescription: 'The service request has been accepted successsfully',
      MerchantRequestID: body.MerchantRequestID,
      CheckoutRequestID: body.CheckoutRequestID,
      ResultCode: '1032',
      ResultDesc: 'Request cancelled by user',
    });
  });
});

describe('responseDelayMs', () => {
  it('when set, then every Daraja answer waits at least that long', async () => {
    const s = await startSimulator({ responseDelayMs: 120 });
    try {
      const started = Date.now();
      const token = await getToken(s.base);
      await push(s.base, {}, token);
      expect(Date.now() - started).toBeGreaterThanOrEqual(240);
    } finally {
      await s.close();
    }
  });
});
