import type { BackgroundJob } from '../core/jobs.js';
import type { Db } from '../core/db/database.js';
import type { Logger } from '../core/logger.js';
import { maskPhone } from '../daraja/phone.js';
import { composeMessage, composeSms } from './notification.messages.js';
import {
  claimNotification,
  dueNotificationIds,
  loadNotificationContent,
  markNotificationAttemptFailed,
  markNotificationSent,
  type NotificationContent,
} from '../store/notification.repository.js';
import { maskEmail, type Notifier, type OutgoingMessage } from './notifier.js';
import { LogSms } from './sms.africastalking.js';

export interface NotificationSenderDeps {
  db: Db;
  logger: Logger;
  now: () => Date;
  publicBaseUrl: string;
  /** Always there: the log. */
  log: Notifier;
  /** With SMTP_URL: email, for rows that have an address. */
  email?: Notifier;
  /** SMS_PROVIDER's sender for 'sms' rows (Africa's Talking, its simulator look-alike); the log's LogSms without one. */
  sms?: Notifier;
  intervalMs?: number;
  /** How long a claim lasts: longer than any send can take (the SMTP timeouts are 10–30 s). */
  lockMs?: number;
  batchSize?: number;
  maxAttempts?: number;
}

export interface SendRound {
  sent: number;
  retrying: number;
  failed: number;
}

/** Seconds to wait after the n-th failed attempt: 30 s, 1 min, 2 min, 4 min. */
export const backoffMs = (attempts: number) => 30_000 * 2 ** Math.max(0, attempts - 1);

/**
 * Delivers the outbox (rows written in the same transaction as the Paid/Failed change) in the background, every
 * ~2 s: never inside a request, so a slow mail server never delays a callback or a page. Each row is claimed by a
 * conditional update before sending, so several instances never send the same one; a failed send is retried with
 * back-off and given up after 5 attempts (at once when the provider says a retry cannot help). A crash between a send
 * and its mark leaves the row claimed until the claim runs out, then it is sent again: at least once, never by two
 * instances at the same time (docs/adr/0029-sms-through-the-outbox.md).
 */
export class NotificationSender implements BackgroundJob {
  readonly name = 'notification-sender';
  private timer?: NodeJS.Timeout;
  private running?: Promise<void>;
  private stopped = true;
  private stopping = false;
  private readonly intervalMs: number;
  private readonly lockMs: number;
  private readonly batchSize: number;
  private readonly maxAttempts: number;

  private readonly sms: Notifier;

  constructor(private readonly deps: NotificationSenderDeps) {
    this.sms = deps.sms ?? new LogSms(deps.logger);
    this.intervalMs = deps.intervalMs ?? 2000;
    this.lockMs = deps.lockMs ?? 120_000;
    this.batchSize = deps.batchSize ?? 20;
    this.maxAttempts = deps.maxAttempts ?? 5;
  }

  start(): void {
    if (!this.stopped) return;
    this.stopped = false;
    this.stopping = false;
    this.schedule();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.stopping = true;
    clearTimeout(this.timer);
    await this.running;
    await this.deps.email?.close?.();
  }

  private schedule(): void {
    if (this.stopped) return;
    this.timer = setTimeout(() => {
      this.running = this.runOnce()
        .then(() => undefined)
        .catch((err: unknown) => this.deps.logger.error({ err }, 'notification round failed'))
        .finally(() => {
          this.running = undefined;
          this.schedule();
        });
    }, this.intervalMs);
    this.timer.unref();
  }

  /** One round: claim what is due, send it, record the outcome. */
  async runOnce(): Promise<SendRound> {
    const round: SendRound = { sent: 0, retrying: 0, failed: 0 };
    const ids = await dueNotificationIds(this.deps.db, this.deps.now(), this.batchSize);
    for (const id of ids) {
      if (this.stopping) break; // shutting down: the rest waits for the next instance or start
      const claimedAt = this.deps.now();
      const claim = new Date(claimedAt.getTime() + this.lockMs);
      if (!(await claimNotification(this.deps.db, id, claimedAt, claim))) continue; // another instance has it
      const n = await loadNotificationContent(this.deps.db, id);
      if (!n) continue;
      try {
        const { notifier, message } = this.prepare(n);
        await notifier.send(message);
      } catch (err) {
        const attempts = n.attempts + 1;
        // A refusal that a retry cannot change (an invalid number) is given up at once.
        const giveUp = attempts >= this.maxAttempts || (err as { permanent?: unknown })?.permanent === true;
        const retryAt = giveUp ? null : new Date(this.deps.now().getTime() + backoffMs(attempts));
        const lastError = describeError(err);
        await markNotificationAttemptFailed(this.deps.db, id, claim, { attempts, lastError, retryAt });
        this.deps.logger[giveUp ? 'error' : 'warn'](
          { notificationId: id, attempts, lastError },
          giveUp ? 'notification failed for good' : 'notification failed; will retry',
        );
        if (giveUp) round.failed++;
        else round.retrying++;
        continue;
      }
      if (await markNotificationSent(this.deps.db, id, claim, this.deps.now())) round.sent++;
      else this.deps.logger.warn({ notificationId: id }, 'notification sent after its claim ran out');
    }
    return round;
  }

  private prepare(n: NotificationContent): { notifier: Notifier; message: OutgoingMessage } {
    const about = { notificationId: n.notificationId, kind: n.kind };
    if (n.channel === 'sms') {
      const text = composeSms(n, this.deps.publicBaseUrl);
      return { notifier: this.sms, message: { to: n.recipient ?? `+${n.phoneNumber}`, subject: '', text, about } };
    }
    const { subject, text } = composeMessage(n, this.deps.publicBaseUrl);
    if (n.channel === 'email' && n.recipient && this.deps.email) {
      return { notifier: this.deps.email, message: { to: n.recipient, subject, text, about } };
    }
    // The log gets no full phone number or address.
    const to = n.recipient ? maskEmail(n.recipient) : maskPhone(n.phoneNumber);
    return { notifier: this.deps.log, message: { to, subject, text, about } };
  }
}

/** An error as one line for lastError: no credentials from an SMTP URL. */
function describeError(err: unknown): string {
  const msg = err instanceof Error ? err.message : String(err);
  return msg.replace(/\/\/[^/\s@]+@/g, '//***@').replace(/\s+/g, ' ').slice(0, 255) || 'unknown error';
}
