import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { toDbTime } from '../../../src/core/db/time.js';
import { silentLogger } from '../../../src/core/logger.js';
import { composeSms, fitsOneSms } from '../../../src/notifications/notification.messages.js';
import { NotificationSender, backoffMs } from '../../../src/notifications/notification.sender.js';
import { LogNotifier, type Notifier, type OutgoingMessage } from '../../../src/notifications/notifier.js';
import { AfricasTalkingSms, LogSms } from '../../../src/notifications/sms.africastalking.js';
import { capturingLogger } from '../security/helpers.js';
import { enqueueNotification, type NotificationContent } from '../../../src/store/notification.repository.js';
import { buildMovie, buildTicket } from '../../support/builders.js';
import { frozenClock } from '../../support/clock.js';
import { createTestDatabase, dialects, type TestDatabase } from '../../support/db.js';

const BASE = 'https://tikiti.example.com';

/** A local server that answers like Africa's Talking's messaging API; each test says how the next requests go. */
class FakeAfricasTalking {
  readonly requests: { headers: IncomingMessage['headers']; form: URLSearchParams }[] = [];
  /** Answers for the next requests, in order; then success. */
  script: Array<'success' | 'invalid' | 'balance' | 'http500'> = [];
  private server!: Server;
  url = '';

  async start(): Promise<void> {
    this.server = createServer((req, res) => {
      let body = '';
      req.on('data', (c) => (body += c));
      req.on('end', () => {
        const form = new URLSearchParams(body);
        this.requests.push({ headers: req.headers, form });
        const how = this.script.shift() ?? 'success';
        if (how === 'http500') {
          res.writeHead(500, { 'content-type': 'text/plain' }).end('Internal Server Error');
          return;
        }
        const recipient = {
          success: { statusCode: 101, number: form.get('to'), status: 'Success', cost: 'KES 0.8000', messageId: 'ATXid_1' },
          invalid: { statusCode: 403, number: form.get('to'), status: 'InvalidPhoneNumber', cost: '0', messageId: 'None' },
          balance: { statusCode: 405, number: form.get('to'), status: 'InsufficientBalance', cost: '0', messageId: 'None' },
        }[how];
        res.writeHead(how === 'success' ? 201 : 200, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ SMSMessageData: { Message: how === 'success' ? 'Sent to 1/1 Total Cost: KES 0.8000' : 'Sent to 0/1 Total Cost: 0', Recipients: [recipient] } }));
      });
    });
    await new Promise<void>((r) => this.server.listen(0, '127.0.0.1', r));
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  async stop(): Promise<void> {
    await new Promise<void>((r) => this.server.close(() => r()));
  }
}

const content = (over: Partial<NotificationContent> = {}): NotificationContent => ({
  notificationId: 1, kind: 'Paid', channel: 'sms', recipient: '+254708374149', attempts: 0,
  ref: 'AbCdEfGhIjKlMnOpQrStUvWx', ticketCode: 'K7M2Q9XA', customerName: 'Amina', phoneNumber: '254708374149',
  quantity: 3, totalAmount: 45, mpesaReceiptNumber: 'TES1A2B3C4', transactionDate: null, failureReason: null,
  movieTitle: 'Oppenheimer', showTime: toDbTime(new Date('2030-06-14T17:30:00Z')), ...over,
});

describe('the ticket SMS', () => {
  it('when a ticket is Paid, then its SMS is one GSM-7 SMS with the code, the movie, the Nairobi show time, the number of tickets and the short link', () => {
    const sms = composeSms(content(), BASE);
    expect(sms).toBe(`Tikiti: code K7M2Q9XA for Oppenheimer, Fri 14 Jun 20:30, 3 tickets. Show this code at the door. ${BASE}/t/AbCdEfGhIjKlMnOpQrStUvWx`);
    expect(fitsOneSms(sms)).toBe(true);
  });

  it('when the title is long or has characters outside GSM-7, then the title is cleaned and shortened so the SMS still fits one', () => {
    const sms = composeSms(content({ movieTitle: `“Nairobi Half Life” — the director’s cut 🎬 ${'with a very long subtitle '.repeat(4)}`, quantity: 1 }), BASE);
    expect(fitsOneSms(sms)).toBe(true);
    expect(sms).toMatch(/^Tikiti: code K7M2Q9XA for "Nairobi Half Life" [^,]*\.\., Fri 14 Jun 20:30, 1 ticket\. /);
    expect(composeSms(content({ movieTitle: '“Kati Kati” — the cut 🎬' }), BASE)).toContain('for "Kati Kati" - the cut, Fri');
    expect(sms).toContain('K7M2Q9XA');
    expect(sms).toContain('1 ticket.');
    expect(sms.endsWith(`${BASE}/t/AbCdEfGhIjKlMnOpQrStUvWx`)).toBe(true);
  });
});

describe.each(dialects)("SMS through the outbox and Africa's Talking on %s", (dialect) => {
  let database: TestDatabase;
  const at = new FakeAfricasTalking();
  const clock = frozenClock(new Date('2030-06-10T09:00:00Z'));

  beforeAll(async () => {
    database = await createTestDatabase(dialect);
    await at.start();
  });
  afterAll(async () => {
    await at.stop();
    await database?.drop();
  });
  beforeEach(() => {
    at.requests.length = 0;
    at.script = [];
  });

  const client = () => new AfricasTalkingSms({ baseUrl: at.url, username: 'tikiti', apiKey: 'at-key-secret', senderId: 'TIKITI', timeoutMs: 2000 });
  const sender = (sms: Notifier, lockMs = 120_000) => new NotificationSender({
    db: database.db, logger: silentLogger, now: clock.now, publicBaseUrl: BASE, log: new LogNotifier(silentLogger), sms, lockMs,
  });

  async function paidTicket(phone = '254708374149') {
    const movieId = await buildMovie(database.db, { title: 'Sms Show', showTime: new Date('2030-06-14T17:30:00Z') });
    const tk = await buildTicket(database.db, { movieId, phoneNumber: phone, quantity: 2 });
    await enqueueNotification(database.db, { ticketId: tk.ticketId, kind: 'Paid', email: null }, clock.now());
    return tk;
  }
  const smsRow = (ticketId: number) => database.db.selectFrom('notification').selectAll()
    .where('ticketId', '=', ticketId).where('channel', '=', 'sms').executeTakeFirstOrThrow();
  const mine = (ticketId: number, code: string) => at.requests.filter((r) => r.form.get('message')?.includes(code));

  it("when a ticket turns Paid, then one SMS goes to Africa's Talking as a form with the apiKey header, and is marked sent", async () => {
    const tk = await paidTicket();
    expect(await smsRow(tk.ticketId)).toMatchObject({ kind: 'Paid', recipient: '+254708374149', status: 'pending' });
    await sender(client()).runOnce();
    const [req] = mine(tk.ticketId, tk.ticketCode!);
    expect(req!.headers.apikey).toBe('at-key-secret');
    expect(req!.headers.accept).toBe('application/json');
    expect(req!.headers['content-type']).toBe('application/x-www-form-urlencoded');
    expect(Object.fromEntries(req!.form)).toEqual({
      username: 'tikiti', to: '+254708374149', from: 'TIKITI',
      message: `Tikiti: code ${tk.ticketCode} for Sms Show, Fri 14 Jun 20:30, 2 tickets. Show this code at the door. ${BASE}/t/${tk.ref}`,
    });
    expect(await smsRow(tk.ticketId)).toMatchObject({ status: 'sent', attempts: 0, lastError: null });
    await sender(client()).runOnce();
    expect(mine(tk.ticketId, tk.ticketCode!)).toHaveLength(1);
  });

  it('when Africa\'s Talking says the number is invalid (403), then the SMS is given up at once, not retried', async () => {
    const tk = await paidTicket();
    at.script = ['invalid'];
    await sender(client()).runOnce();
    expect(await smsRow(tk.ticketId)).toMatchObject({ status: 'failed', attempts: 1, lastError: "Africa's Talking refused the SMS: 403 InvalidPhoneNumber" });
    clock.advance(backoffMs(5) * 2);
    await sender(client()).runOnce();
    expect(mine(tk.ticketId, tk.ticketCode!)).toHaveLength(1);
  });

  it('when the balance is out (405) and then the server fails (500), then it is retried after each back-off and sent on the third try', async () => {
    const tk = await paidTicket();
    at.script = ['balance', 'http500'];
    await sender(client()).runOnce();
    expect(await smsRow(tk.ticketId)).toMatchObject({ status: 'pending', attempts: 1, lastError: "Africa's Talking refused the SMS: 405 InsufficientBalance" });
    await sender(client()).runOnce(); // the back-off has not run out: nothing is sent
    expect(mine(tk.ticketId, tk.ticketCode!)).toHaveLength(1);
    clock.advance(backoffMs(1));
    await sender(client()).runOnce();
    expect(await smsRow(tk.ticketId)).toMatchObject({ status: 'pending', attempts: 2, lastError: "Africa's Talking failed (HTTP 500)" });
    clock.advance(backoffMs(2));
    await sender(client()).runOnce();
    expect(await smsRow(tk.ticketId)).toMatchObject({ status: 'sent', attempts: 2 });
    expect(mine(tk.ticketId, tk.ticketCode!)).toHaveLength(3);
  });

  it('when SMS_PROVIDER is log, or the client logs, then no line holds the text, the ticket code, the reference, the whole number or the API key', async () => {
    const tk = await paidTicket('254711223344');
    const cap = capturingLogger('trace');
    const logSender = new NotificationSender({
      db: database.db, logger: cap.logger, now: clock.now, publicBaseUrl: BASE, log: new LogNotifier(cap.logger), sms: new LogSms(cap.logger),
    });
    await logSender.runOnce();
    const other = await paidTicket('254711223355');
    const atSender = new NotificationSender({
      db: database.db, logger: cap.logger, now: clock.now, publicBaseUrl: BASE, log: new LogNotifier(cap.logger),
      sms: new AfricasTalkingSms({ baseUrl: at.url, username: 'tikiti', apiKey: 'at-key-secret', timeoutMs: 2000 }, cap.logger),
    });
    await atSender.runOnce();
    expect(cap.text()).toContain('+2547•••••344');
    for (const secret of [tk.ticketCode!, tk.ref, '254711223344', other.ticketCode!, other.ref, '254711223355', 'at-key-secret', 'Show this code']) {
      expect(cap.text()).not.toContain(secret);
    }
  });

  it('when an instance dies between sending and marking, then no other sends it again until its claim runs out, and then once', async () => {
    const tk = await paidTicket();
    // The first instance sends, then never gets to mark the row (its process died): its send never returns.
    const dying: Notifier = {
      channel: 'sms',
      async send(m: OutgoingMessage) {
        await client().send(m);
        await new Promise(() => {});
      },
    };
    void sender(dying, 60_000).runOnce();
    await expect.poll(() => mine(tk.ticketId, tk.ticketCode!).length).toBe(1);
    clock.advance(59_000); // still inside the claim
    await sender(client(), 60_000).runOnce();
    expect(mine(tk.ticketId, tk.ticketCode!)).toHaveLength(1);
    clock.advance(2_000); // the claim has run out: the lease allows one more send
    await sender(client(), 60_000).runOnce();
    await sender(client(), 60_000).runOnce();
    expect(mine(tk.ticketId, tk.ticketCode!)).toHaveLength(2);
    expect(await smsRow(tk.ticketId)).toMatchObject({ status: 'sent' });
  });
});
