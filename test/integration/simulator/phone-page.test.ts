import { createServer } from 'node:http';
import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import express from 'express';
import request from 'supertest';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createSimulator } from '../../../src/simulator/index.js';
import { waitFor } from '../../support/wait.js';
import { push, startReceiver, startSimulator, type Callback, type Receiver, type RunningSimulator } from './helpers.js';

let s: RunningSimulator;
let receiver: Receiver;

beforeEach(async () => {
  receiver = await startReceiver();
  s = await startSimulator({ mode: 'manual' });
});
afterEach(async () => {
  await s.close();
  await receiver.close();
});

const pushFromPhone = async (phone = 254712345678, amount = 45) => {
  const res = await push(s.base, { PhoneNumber: phone, Amount: amount, CallBackURL: receiver.url });
  return res.body.CheckoutRequestID as string;
};
const resultOf = async () => ((await receiver.waitFor(1)) as Callback[])[0]!.Body.stkCallback;

describe('the phone page', () => {
  it('when a prompt is pending, then the page shows it with a labelled PIN field and the three actions', async () => {
    const id = await pushFromPhone(254712345678, 45);
    const res = await request(s.base).get('/phone').expect(200).expect('content-type', /html/);
    const html = res.text;
    expect(html).toMatch(/^<!doctype html>/);
    expect(html).toContain('Pay KES 45 to TIKITI?');
    expect(html).toContain(`<label class="prompt__label" for="pin-${id}">Enter M-Pesa PIN</label>`);
    expect(html).toContain(`id="pin-${id}" name="pin" type="password"`);
    expect(html).toContain(`action="/simulator/phone/prompts/${id}/pin"`);
    expect(html).toContain(`formaction="/simulator/phone/prompts/${id}/cancel" formnovalidate>Cancel</button>`);
    expect(html).toContain(`formaction="/simulator/phone/prompts/${id}/timeout" formnovalidate>Let it time out</button>`);
    expect(html).toContain('254700000008');
  });

  it('when the page is served, then it uses no inline script, style or event handler (the app\'s CSP forbids them)', async () => {
    await pushFromPhone();
    const { text } = await request(s.base).get('/phone').expect(200);
    expect(text).toContain('<script src="/simulator/assets/phone.js" defer></script>');
    expect(text).toContain('<link rel="stylesheet" href="/simulator/assets/phone.css">');
    expect(text).not.toMatch(/<script(?![^>]*\ssrc=)[^>]*>/);
    expect(text).not.toMatch(/<style/);
    expect(text).not.toMatch(/\sstyle=/);
    expect(text).not.toMatch(/\son[a-z]+=/);
  });

  it('when no prompt is pending, then the page says so', async () => {
    const { text } = await request(s.base).get('/phone').expect(200);
    expect(text).toMatch(/data-empty="pending">No payment request is waiting/);
  });

  it('when the assets are fetched, then the router serves its own JS and CSS', async () => {
    await request(s.base).get('/assets/phone.js').expect(200).expect('content-type', /javascript/);
    await request(s.base).get('/assets/phone.css').expect(200).expect('content-type', /css/);
  });

  it('when merchantName is set, then the prompt names that merchant', async () => {
    const named = await startSimulator({ merchantName: 'CINEMA KE' });
    try {
      await push(named.base);
      expect((await request(named.base).get('/phone')).text).toContain('Pay KES 45 to CINEMA KE?');
    } finally {
      await named.close();
    }
  });

  it('when the host app has its own view engine and views folder, then the page still renders', async () => {
    const sim = createSimulator({ mode: 'manual', delayMs: 10 });
    const app = express();
    app.set('views', '/nonexistent');
    app.set('view engine', 'pug');
    app.use('/simulator', sim.router);
    const server = createServer(app).listen(0, '127.0.0.1');
    await once(server, 'listening');
    try {
      const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}/simulator`;
      await request(base).get('/phone').expect(200).expect(/SIM Toolkit/);
    } finally {
      await sim.close();
      server.close();
    }
  });
});

describe('answering on the phone without JavaScript', () => {
  it('when PIN 1234 is posted, then 303 back to the phone, a success callback is sent and the page shows it Paid', async () => {
    const id = await pushFromPhone();
    const res = await request(s.base).post(`/phone/prompts/${id}/pin`).type('form').send({ pin: '1234' }).expect(303);
    expect(res.headers.location).toBe('/simulator/phone');
    const stk = await resultOf();
    expect(stk).toMatchObject({ CheckoutRequestID: id, ResultCode: 0 });
    const receipt = stk.CallbackMetadata!.Item.find((i) => i.Name === 'MpesaReceiptNumber')!.Value as string;
    const { text } = await request(s.base).get('/phone');
    expect(text).toContain('<strong class="done__outcome">Paid</strong> · KES 45 to TIKITI');
    expect(text).toContain(receipt);
    expect(text).not.toContain(`id="pin-${id}"`);
  });

  it.each([
    ['pin', { pin: '0000' }, 2001, 'The initiator information is invalid.', 'Wrong PIN'],
    ['cancel', {}, 1032, 'Request cancelled by user', 'Cancelled'],
    ['timeout', {}, 1037, 'DS timeout user cannot be reached', 'Timed out'],
  ])('when %s is posted, then the callback carries ResultCode %s and the page shows the outcome', async (action, form, code, desc, label) => {
    const id = await pushFromPhone();
    await request(s.base).post(`/phone/prompts/${id}/${action}`).type('form').send(form).expect(303);
    expect(await resultOf()).toEqual({ MerchantRequestID: expect.any(String), CheckoutRequestID: id, ResultCode: code, ResultDesc: desc });
    const { text } = await request(s.base).get('/phone');
    expect(text).toContain(`<strong class="done__outcome">${label}</strong>`);
  });

  it('when a prompt that is already answered is posted again, then 303 with a notice and nothing more is sent', async () => {
    const id = await pushFromPhone();
    await request(s.base).post(`/phone/prompts/${id}/cancel`).type('form').send({}).expect(303);
    await resultOf();
    const res = await request(s.base).post(`/phone/prompts/${id}/pin`).type('form').send({ pin: '1234' }).expect(303);
    expect(res.headers.location).toBe('/simulator/phone?notice=gone');
    const { text } = await request(s.base).get(res.headers.location!.replace('/simulator', ''));
    expect(text).toContain('That prompt is no longer waiting');
    expect(s.sim.prompts()[0]).toMatchObject({ resultCode: '1032' });
  });

  it('when an unknown action is posted, then 404 and the prompt stays pending', async () => {
    const id = await pushFromPhone();
    const res = await request(s.base).post(`/phone/prompts/${id}/explode`).type('form').send({}).expect(404);
    expect(res.body.errorCode).toBe('404.001.01');
    expect(s.sim.prompts()[0]?.status).toBe('pending');
  });
});

describe('the live JSON endpoints the page\'s script uses', () => {
  it('when polled, then pending and recent prompts come with their HTML; polling with the same version says unchanged', async () => {
    const id = await pushFromPhone(254712345678, 1250);
    const first = await request(s.base).get('/phone/prompts').expect(200);
    expect(first.body).toMatchObject({
      changed: true,
      pending: [{ id, question: 'Pay KES 1,250 to TIKITI?', phoneNumber: '254712345678', status: 'pending', html: expect.stringContaining(`data-id="${id}"`) }],
      recent: [],
    });
    const again = await request(s.base).get(`/phone/prompts?since=${first.body.version}`).expect(200);
    expect(again.body).toEqual({ version: first.body.version, changed: false });
  });

  it('when answered with Accept: application/json, then the outcome comes back as JSON, and 409 the second time', async () => {
    const id = await pushFromPhone();
    const res = await request(s.base).post(`/phone/prompts/${id}/pin`).set('accept', 'application/json').type('form').send({ pin: '1234' }).expect(200);
    expect(res.body).toMatchObject({ id, status: 'finished', resultCode: '0', outcome: 'Paid', summary: 'KES 45 to TIKITI', mpesaReceiptNumber: expect.stringMatching(/^[A-Z0-9]{10}$/) });
    const again = await request(s.base).post(`/phone/prompts/${id}/cancel`).set('accept', 'application/json').send({}).expect(409);
    expect(again.body).toEqual({ error: 'That prompt is no longer waiting: it was answered or timed out.' });
    const polled = await request(s.base).get('/phone/prompts').expect(200);
    expect(polled.body.pending).toEqual([]);
    expect(polled.body.recent).toMatchObject([{ id, outcome: 'Paid', html: expect.stringContaining('Paid') }]);
  });

  it('when the callback has been delivered, then the recent entry says so', async () => {
    const id = await pushFromPhone();
    await request(s.base).post(`/phone/prompts/${id}/pin`).type('form').send({ pin: '1234' });
    await receiver.waitFor(1);
    // Delivery is recorded just after the receiver answers, so the page may lag by a moment.
    expect(await recentHtmlOnceContaining('Callback delivered (1 attempt)')).toContain(`data-id="${id}"`);
  });
});

function recentHtmlOnceContaining(needle: string): Promise<string> {
  return waitFor(`"${needle}" on the phone`, async () => {
    const { body } = await request(s.base).get('/phone/prompts');
    const html = (body.recent as Array<{ html: string }>).map((r) => r.html).join('');
    return html.includes(needle) ? html : undefined;
  });
}
