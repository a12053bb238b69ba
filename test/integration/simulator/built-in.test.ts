import request from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { dialects } from '../../support/db.js';
import { startTestServer, type TestServer } from '../../support/server.js';
import { pushBody } from './helpers.js';

// The simulator mounted inside the app: callbacks to the app's own address only, never where a request says.
describe.each(dialects)('the built-in simulator on %s', (dialect) => {
  let t: TestServer;
  beforeAll(async () => {
    t = await startTestServer(dialect, { SIMULATOR_MODE: 'manual' });
  });
  afterAll(() => t?.close());

  const token = async () => {
    const res = await request(t.baseUrl).get('/simulator/oauth/v1/generate?grant_type=client_credentials').auth('any', 'pair').expect(200);
    return (res.body as { access_token: string }).access_token;
  };

  it('when a push names a CallBackURL elsewhere than PUBLIC_BASE_URL, then it is refused as an invalid CallBackURL and no prompt waits', async () => {
    const res = await request(t.baseUrl).post('/simulator/mpesa/stkpush/v1/processrequest').set('authorization', `Bearer ${await token()}`)
      .send(pushBody({ CallBackURL: 'https://attacker.example.com/collect' }));
    expect(res.status).toBe(400);
    expect(res.body).toMatchObject({ errorCode: '400.002.02', errorMessage: 'Bad Request - Invalid CallBackURL' });
    expect(t.services.simulator!.prompts()).toHaveLength(0);
  });

  it('when a push names the app\'s own callback URL, then it is accepted', async () => {
    const res = await request(t.baseUrl).post('/simulator/mpesa/stkpush/v1/processrequest').set('authorization', `Bearer ${await token()}`)
      .send(pushBody({ CallBackURL: t.config.daraja.callbackUrl }));
    expect(res.status).toBe(200);
    expect(t.services.simulator!.prompts()).toHaveLength(1);
  });

  it('when a token is asked for without Basic credentials, then 400.008.01: the app\'s own client sends a placeholder pair', async () => {
    await request(t.baseUrl).get('/simulator/oauth/v1/generate?grant_type=client_credentials').expect(400);
    await expect(t.services.daraja.getAccessToken()).resolves.toMatch(/^[A-Za-z0-9]{28}$/);
  });
});
