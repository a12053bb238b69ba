import { randomBytes } from 'node:crypto';
import express, { type Router } from 'express';
import type { SimulatorLogger } from './daraja-protocol.js';
import type { SimulatorPrompt } from './simulator.state.js';

/**
 * The simulated phones' messages: what an app sent through the Africa's Talking look-alike (POST
 * /africastalking/version1/messaging, Africa's Talking's request and answer shapes), and the M-Pesa confirmation each
 * paid prompt brings, as a real phone gets one from MPESA. Kept in memory (the newest `max`); the phone page shows
 * them per number, and GET /sms?phone= lists what apps sent to a number, newest last.
 */

export interface PhoneMessage {
  /** +2547… */
  to: string;
  /** 'MPESA' for the payment confirmation, else the app's sender id (or Africa's Talking's default, AFRICASTKNG). */
  from: string;
  message: string;
  at: Date;
  /** Sent by an app through the look-alike (listed by GET /sms); false for the M-Pesa confirmation. */
  viaApi: boolean;
}

const KENYAN = /^\+254[17]\d{8}$/;

/** A phone as the look-alike and the JSON take it: +2547…, 2547…, 07… → +2547…; undefined otherwise. */
export function intlPhone(raw: unknown): string | undefined {
  if (typeof raw !== 'string') return undefined;
  const s = raw.replace(/[\s-]/g, '');
  const intl = s.startsWith('+') ? s : s.startsWith('254') ? `+${s}` : s.startsWith('0') ? `+254${s.slice(1)}` : s;
  return KENYAN.test(intl) ? intl : undefined;
}

export class SmsInbox {
  private readonly messages: PhoneMessage[] = [];
  constructor(private readonly now: () => Date, private readonly max = 2000) {}

  add(m: Omit<PhoneMessage, 'at'>): void {
    this.messages.push({ ...m, at: this.now() });
    if (this.messages.length > this.max) this.messages.splice(0, this.messages.length - this.max);
  }

  /** The confirmation SMS M-Pesa sends the payer, in its usual wording. */
  mpesaConfirmation(p: SimulatorPrompt, merchantName: string): void {
    if (!p.mpesaReceiptNumber) return;
    const at = this.now();
    const nairobi = new Date(at.getTime() + 3 * 3600_000);
    const date = `${nairobi.getUTCDate()}/${nairobi.getUTCMonth() + 1}/${String(nairobi.getUTCFullYear()).slice(2)}`;
    const h = nairobi.getUTCHours();
    const time = `${h % 12 || 12}:${String(nairobi.getUTCMinutes()).padStart(2, '0')} ${h < 12 ? 'AM' : 'PM'}`;
    this.add({
      to: `+${p.phoneNumber}`,
      from: 'MPESA',
      message: `${p.mpesaReceiptNumber} Confirmed. Ksh${p.amount.toFixed(2)} sent to ${merchantName} for account ${p.accountReference} on ${date} at ${time}. Transaction cost, Ksh0.00.`,
      viaApi: false,
    });
  }

  /** Every message to a number, oldest first. */
  to(phone: string): PhoneMessage[] {
    return this.messages.filter((m) => m.to === phone);
  }

  /** The numbers with messages, the most recently messaged first, with their messages newest first. */
  byNumber(limit = 10): { phone: string; messages: PhoneMessage[] }[] {
    const order: string[] = [];
    for (let i = this.messages.length - 1; i >= 0 && order.length < limit; i--) {
      const to = this.messages[i]!.to;
      if (!order.includes(to)) order.push(to);
    }
    return order.map((phone) => ({ phone, messages: this.to(phone).reverse() }));
  }
}

const invalid = (res: express.Response, status: number, text: string) => res.status(status).type('text/plain').send(text);

/** The Africa's Talking look-alike and GET /sms. */
export function smsRoutes(inbox: SmsInbox, logger: SimulatorLogger): Router {
  const router = express.Router();
  const form = express.urlencoded({ extended: false, limit: '16kb' });

  router.post('/africastalking/version1/messaging', form, (req, res) => {
    // Africa's Talking answers a missing key 401 in plain text, and a missing field 400 the same way.
    if (!req.get('apikey')) return invalid(res, 401, 'The supplied authentication is invalid');
    const body = (req.body ?? {}) as Record<string, unknown>;
    if (typeof body.username !== 'string' || body.username === '') return invalid(res, 400, 'Must have username set');
    if (typeof body.to !== 'string' || body.to.trim() === '') return invalid(res, 400, 'Must have to set');
    if (typeof body.message !== 'string' || body.message === '') return invalid(res, 400, 'Must have message set');
    const from = typeof body.from === 'string' && body.from ? body.from : 'AFRICASTKNG';
    const message = body.message;
    const parts = message.length <= 160 ? 1 : Math.ceil(message.length / 153);
    const recipients = body.to.split(',').map((raw) => {
      const to = intlPhone(raw.trim());
      if (!to) return { statusCode: 403, number: raw.trim(), status: 'InvalidPhoneNumber', cost: '0', messageId: 'None' };
      inbox.add({ to, from, message, viaApi: true });
      return { statusCode: 101, number: to, status: 'Success', cost: `KES ${(0.8 * parts).toFixed(4)}`, messageId: `ATXid_${randomBytes(16).toString('hex')}` };
    });
    const sent = recipients.filter((r) => r.statusCode === 101).length;
    logger.info({ recipients: recipients.length, sent }, 'simulator: SMS received');
    res.status(201).json({
      SMSMessageData: {
        Message: `Sent to ${sent}/${recipients.length} Total Cost: KES ${(0.8 * parts * sent).toFixed(4)}`,
        Recipients: recipients,
      },
    });
  });

  router.get('/sms', (req, res) => {
    const phone = intlPhone(req.query.phone);
    res.set('cache-control', 'no-store');
    if (!phone) {
      res.status(400).json({ error: 'Give ?phone= a Kenyan number, e.g. 254712345678.' });
      return;
    }
    res.json(inbox.to(phone).filter((m) => m.viaApi).map((m) => ({ to: m.to, message: m.message, at: m.at.toISOString() })));
  });

  return router;
}
