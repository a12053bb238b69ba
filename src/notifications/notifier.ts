import nodemailer from 'nodemailer';
import SMTPTransport from 'nodemailer/lib/smtp-transport/index.js';
import type { NotificationChannel, NotificationKind } from '../core/db/schema.js';
import type { Logger } from '../core/logger.js';

/** One message to a customer. */
export interface OutgoingMessage {
  /** An email address for EmailNotifier, a +254… number for an SMS; for LogNotifier something safe to log (masked). */
  to: string;
  subject: string;
  /** Holds the ticket link (its reference is a bearer secret) and the customer's name: never logged. */
  text: string;
  /** What a log line may say about the message. */
  about: { notificationId: number; kind: NotificationKind };
}

/** Delivers a message or throws; the sender retries. */
export interface Notifier {
  readonly channel: NotificationChannel;
  /** Throws on failure; an error with `permanent: true` is not retried (sending again cannot help). */
  send(message: OutgoingMessage): Promise<void>;
  close?(): Promise<void>;
}

/**
 * The default without SMTP: one log line per message, a summary only (`to` is already masked by the sender). The text
 * is not written: its ticket link would let anyone who reads the logs open, and retry, the customer's ticket.
 */
export class LogNotifier implements Notifier {
  readonly channel = 'log' as const;
  constructor(private readonly logger: Logger) {}

  async send(message: OutgoingMessage): Promise<void> {
    const { notificationId, kind } = message.about;
    this.logger.info({ event: 'notification.logged', notificationId, kind, to: message.to }, `notification ${notificationId}: ${kind} to ${message.to}`);
  }
}

/** The part of a nodemailer transporter EmailNotifier uses, so a test can hand in a fake. */
export interface MailTransport {
  sendMail(mail: { from: string; to: string; subject: string; text: string }): Promise<unknown>;
  close?(): void;
}

/** Email over SMTP_URL from MAIL_FROM, with timeouts shorter than the sender's claim on a row. */
export class EmailNotifier implements Notifier {
  readonly channel = 'email' as const;
  private readonly transport: MailTransport;
  private readonly from: string;

  constructor(opts: { from: string; smtpUrl?: string; transport?: MailTransport }) {
    this.from = opts.from;
    if (opts.transport) this.transport = opts.transport;
    else if (opts.smtpUrl) {
      this.transport = nodemailer.createTransport(
        new SMTPTransport({ url: opts.smtpUrl, connectionTimeout: 10_000, greetingTimeout: 10_000, socketTimeout: 30_000 }),
      );
    } else throw new Error('EmailNotifier needs an SMTP URL or a transport');
  }

  async send(message: OutgoingMessage): Promise<void> {
    await this.transport.sendMail({ from: this.from, to: message.to, subject: message.subject, text: message.text });
  }

  async close(): Promise<void> {
    this.transport.close?.();
  }
}

/** Hides most of an email address for logs: 'amina.w@example.com' → 'a•••@example.com'. */
export function maskEmail(email: string): string {
  const at = email.lastIndexOf('@');
  if (at < 1) return '•••';
  return `${email[0]}•••${email.slice(at)}`;
}
