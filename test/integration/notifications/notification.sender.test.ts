import { randomBytes } from 'node:crypto';
import nodemailer from 'nodemailer';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openDatabase, type DatabaseHandle, type Db } from '../../../src/core/db/database.js';
import { toDbTime } from '../../../src/core/db/time.js';
import { createLogger, silentLogger } from '../../../src/core/logger.js';
import { enqueueNotification, notificationsForTicket } from '../../../src/store/notification.repository.js';
import { NotificationSender, backoffMs } from '../../../src/notifications/notification.sender.js';
import { EmailNotifier, LogNotifier, type Notifier, type OutgoingMessage } from '../../../src/notifications/notifier.js';
import { buildMovie, buildTicket } from '../../support/builders.js';
import { createTestDatabase, dialects, type TestDatabase } from '../../support/db.js';
import { waitFor } from '../../support/wait.js';

const BASE = 'https://tikiti.example.com';

class RecordingNotifier implements Notifier {
  readonly sent: OutgoingMessage[] = [];
  failNext = 0;
  delayMs = 0;
  constructor(readonly channel: 'log' | 'email' = 'log') {}
  async send(m: OutgoingMessage): Promise<void> {
    if (this.delayMs) await new Promise((r) => setTimeout(r, this.delayMs));
    if (this.failNext > 0) {
      this.failNext--;
      throw new Error('connect ECONNREFUSED smtp://user:secret@mail.example.com:587');
    }
    this.sent.push(m);
  }
}

/** A Paid or Failed ticket of its own (the show is on 14 June 2030, 20:30 in Nairobi) with its notification queued. */
async function queuedTicket(
  db: Db,
  p: { status: 'Paid' | 'Failed'; email?: string | null; receipt?: string | null; reason?: string; phone?: string },
): Promise<{ ticketId: number; ref: string }> {
  const movieId = await buildMovie(db, {
    title: `Notify ${randomBytes(3).toString('hex')}`, price: 15, maximumTickets: 10, showTime: new Date('2030-06-14T17:30:00Z'),
  });
  const { ticketId, ref } = await buildTicket(db, {
    movieId, customerName: 'Amina', phoneNumber: p.phone ?? '254708374149', email: p.email ?? null, quantity: 3,
    totalAmount: 45, paymentStatus: p.status,
    // A receipt names one payment (unique in the database): each ticket gets its own unless the test names one.
    mpesaReceiptNumber: p.status === 'Paid' ? (p.receipt === undefined ? `TES${randomBytes(4).toString('hex').toUpperCase()}` : p.receipt) : null,
    transactionDate: p.status === 'Paid' ? toDbTime(new Date('2030-06-10T09:00:00Z')) : null,
    failureReason: p.status === 'Failed' ? (p.reason ?? 'You cancelled the payment on your phone.') : null,
    confirmedBy: p.status === 'Paid' ? 'callback' : null,
  });
  // Queued the way the payments code queues it, so the channel follows the email as it does there.
  await enqueueNotification(db, { ticketId, kind: p.status, email: p.email ?? null }, new Date());
  return { ticketId, ref };
}

describe.each(dialects)('notification sender on %s', (dialect) => {
  let database: TestDatabase;
  let second: DatabaseHandle;

  beforeAll(async () => {
    database = await createTestDatabase(dialect);
    // A second connection (pool) to the same database: a second app instance.
    second = await openDatabase(database.url);
  });
  afterAll(async () => {
    await second?.close();
    await database?.drop();
  });

  const sender = (db: Db, log: Notifier, extra: Partial<ConstructorParameters<typeof NotificationSender>[0]> = {}) =>
    new NotificationSender({ db, logger: silentLogger, now: () => new Date(), publicBaseUrl: BASE, log, ...extra });

  it('when two senders race over the same outbox, then every notification goes out exactly once and is marked sent', async () => {
    const ids: number[] = [];
    for (let i = 0; i < 12; i++) ids.push((await queuedTicket(database.db, { status: i % 2 ? 'Paid' : 'Failed' })).ticketId);
    const a = new RecordingNotifier();
    const b = new RecordingNotifier();
    a.delayMs = 2;
    b.delayMs = 2;
    const rounds = await Promise.all([
      sender(database.db, a).runOnce(),
      sender(second.db, b).runOnce(),
      sender(database.db, a).runOnce(),
      sender(second.db, b).runOnce(),
    ]);
    const all = [...a.sent, ...b.sent];
    expect(all).toHaveLength(12);
    // The 12 messages, and the SMS of the 6 Paid ones (to the log's SMS sender: no SMS notifier is given).
    expect(rounds.reduce((n, r) => n + r.sent, 0)).toBe(18);
    const subjects = all.map((m) => m.text);
    expect(new Set(subjects).size).toBe(12);
    for (const id of ids) {
      const [n] = await notificationsForTicket(database.db, id);
      expect(n).toMatchObject({ status: 'sent', attempts: 0, lockedUntil: null });
      expect(n!.sentAt).not.toBeNull();
    }
    // Nothing left: a further round sends nothing.
    expect((await sender(database.db, a).runOnce()).sent).toBe(0);
    expect(a.sent.length + b.sent.length).toBe(12);
  });

  it('when a Paid notification is composed, then it names the receipt, movie, show time, quantity, total and the ticket link', async () => {
    const log = new RecordingNotifier();
    const { ref } = await queuedTicket(database.db, { status: 'Paid', phone: '254708374149', receipt: 'TES1A2B3C4' });
    await sender(database.db, log).runOnce();
    const mine = log.sent.find((m) => m.text.includes(ref));
    expect(mine).toBeDefined();
    expect(mine!.to).toBe('2547•••••149');
    expect(mine!.text).toContain('M-Pesa receipt: TES1A2B3C4');
    expect(mine!.text).toMatch(/Show: .*14 Jun 2030,? 20:30/);
    expect(mine!.text).toContain('Tickets: 3');
    expect(mine!.text).toContain('Total: KES 45');
    expect(mine!.text).toContain(`${BASE}/tickets/${ref}`);
    expect(mine!.about).toEqual({ notificationId: expect.any(Number), kind: 'Paid' });
  });

  it('when a notification goes to the log, then one info line says which (id, kind, masked phone) and never the text: no ticket link, no name, no full phone', async () => {
    const lines: string[] = [];
    const logger = createLogger({ level: 'trace', destination: { write: (s: string) => lines.push(s) } as unknown as NodeJS.WritableStream });
    const { ticketId, ref } = await queuedTicket(database.db, { status: 'Paid', phone: '254708374149' });
    await sender(database.db, new LogNotifier(logger)).runOnce();
    const [n] = await notificationsForTicket(database.db, ticketId);
    const entries = lines.map((l) => JSON.parse(l) as Record<string, unknown>);
    const mine = entries.filter((e) => e.notificationId === n!.notificationId);
    expect(mine).toEqual([expect.objectContaining({ level: 30, event: 'notification.logged', kind: 'Paid', to: '2547•••••149' })]);
    const out = lines.join('');
    expect(out).not.toContain(ref);
    expect(out).not.toContain('Amina');
    expect(out).not.toContain('254708374149');
  });

  it('when a Paid ticket has an email and SMTP is set, then one email goes out through the transport with the receipt and booking', async () => {
    const mails: Array<{ from: string; to: string; subject: string; text: string }> = [];
    const email = new EmailNotifier({ from: 'Tikiti <tickets@tikiti.example.com>', transport: { sendMail: async (m) => { mails.push(m); return {}; } } });
    const log = new RecordingNotifier();
    const { ticketId, ref } = await queuedTicket(database.db, { status: 'Paid', email: 'amina@example.com', receipt: 'TES5E6F7G8' });
    await sender(database.db, log, { email }).runOnce();
    await sender(database.db, log, { email }).runOnce();
    const mine = mails.filter((m) => m.text.includes(ref));
    expect(mine).toHaveLength(1);
    expect(mine[0]).toMatchObject({ from: 'Tikiti <tickets@tikiti.example.com>', to: 'amina@example.com' });
    expect(mine[0]!.subject).toMatch(/^Your tickets for Notify /);
    expect(mine[0]!.text).toContain('M-Pesa receipt: TES5E6F7G8');
    expect(mine[0]!.text).not.toContain('254708374149');
    expect(log.sent.some((m) => m.text.includes(ref))).toBe(false);
    expect((await notificationsForTicket(database.db, ticketId))[0]).toMatchObject({ channel: 'email', status: 'sent' });
  });

  it('when the email goes through real nodemailer (JSON transport), then the message is built with from, to, subject and text', async () => {
    const transport = nodemailer.createTransport({ jsonTransport: true });
    const built: string[] = [];
    const email = new EmailNotifier({
      from: 'tickets@tikiti.example.com',
      transport: { sendMail: async (m) => { const info = await transport.sendMail(m); built.push(String(info.message)); return info; } },
    });
    const { ref } = await queuedTicket(database.db, { status: 'Failed', email: 'otieno@example.com', reason: 'Your M-Pesa balance was not enough.' });
    await sender(database.db, new RecordingNotifier(), { email }).runOnce();
    const msg = built.map((b) => JSON.parse(b)).find((m) => m.text.includes(ref));
    expect(msg.from).toEqual({ address: 'tickets@tikiti.example.com', name: '' });
    expect(msg.to).toEqual([{ address: 'otieno@example.com', name: '' }]);
    expect(msg.subject).toMatch(/^Payment not completed: Notify /);
    expect(msg.text).toContain('Reason: Your M-Pesa balance was not enough.');
    expect(msg.text).toContain(`To try again, open your ticket: ${BASE}/tickets/${ref}`);
  });

  it('when a ticket has an email but SMTP is not set, then the message goes to the log with the address masked', async () => {
    const log = new RecordingNotifier();
    const { ref } = await queuedTicket(database.db, { status: 'Failed', email: 'wanjiku@example.com' });
    await sender(database.db, log).runOnce();
    const m = log.sent.find((x) => x.text.includes(ref));
    expect(m?.to).toBe('w•••@example.com');
  });

  it('when sending fails, then the attempt and error are recorded, it waits before the next try, and after 5 failures it is failed', async () => {
    let clock = new Date('2031-01-01T00:00:00Z');
    const now = () => clock;
    // Its own database, so other tests' rows (created on the real clock) are not in the way of the fake one.
    const db2 = await createTestDatabase(dialect);
    try {
      const { ticketId } = await queuedTicket(db2.db, { status: 'Failed' });
      const notifier = new RecordingNotifier();
      notifier.failNext = 100;
      const s = sender(db2.db, notifier, { now });

      expect(await s.runOnce()).toEqual({ sent: 0, retrying: 1, failed: 0 });
      let [n] = await notificationsForTicket(db2.db, ticketId);
      expect(n).toMatchObject({ status: 'pending', attempts: 1 });
      expect(n!.lastError).toContain('ECONNREFUSED');
      expect(n!.lastError).not.toContain('secret');
      // Not due again straight away.
      expect(await s.runOnce()).toEqual({ sent: 0, retrying: 0, failed: 0 });

      for (let attempt = 2; attempt <= 5; attempt++) {
        clock = new Date(clock.getTime() + backoffMs(attempt - 1) + 1);
        await s.runOnce();
      }
      [n] = await notificationsForTicket(db2.db, ticketId);
      expect(n).toMatchObject({ status: 'failed', attempts: 5, lockedUntil: null, sentAt: null });
      clock = new Date(clock.getTime() + 86_400_000);
      expect(await s.runOnce()).toEqual({ sent: 0, retrying: 0, failed: 0 });
      expect(notifier.sent).toHaveLength(0);
    } finally {
      await db2.drop();
    }
  });

  it('when a send fails once, then the next try after the back-off sends it, once', async () => {
    let clock = new Date('2032-01-01T00:00:00Z');
    const db2 = await createTestDatabase(dialect);
    try {
      const { ticketId } = await queuedTicket(db2.db, { status: 'Paid' });
      const notifier = new RecordingNotifier();
      notifier.failNext = 1;
      const s = sender(db2.db, notifier, { now: () => clock });
      await s.runOnce();
      clock = new Date(clock.getTime() + backoffMs(1) + 1);
      expect((await s.runOnce()).sent).toBe(1);
      expect(notifier.sent).toHaveLength(1);
      expect((await notificationsForTicket(db2.db, ticketId))[0]).toMatchObject({ status: 'sent', attempts: 1 });
    } finally {
      await db2.drop();
    }
  });

  it('when started as a background job, then it delivers on its own and stops cleanly', async () => {
    const db2 = await createTestDatabase(dialect);
    try {
      const { ticketId } = await queuedTicket(db2.db, { status: 'Paid' });
      const notifier = new RecordingNotifier();
      const s = sender(db2.db, notifier, { intervalMs: 20 });
      s.start();
      await waitFor('the job to send it', () => notifier.sent.length > 0);
      await s.stop();
      expect(notifier.sent).toHaveLength(1);
      expect((await notificationsForTicket(db2.db, ticketId))[0]).toMatchObject({ status: 'sent' });
    } finally {
      await db2.drop();
    }
  });
});
