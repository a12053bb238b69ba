import axios, { type AxiosInstance } from 'axios';
import type { Logger } from '../core/logger.js';
import type { Notifier, OutgoingMessage } from './notifier.js';

/**
 * Africa's Talking's bulk SMS API (POST {base}/version1/messaging, a form body, the apiKey header), called with axios
 * like the Daraja client. The same class talks to Africa's Talking's live API, its sandbox, and the built-in
 * simulator's look-alike, so the code that runs in development is the code that runs in production.
 * See docs/adr/0029-sms-through-the-outbox.md.
 */

export const AT_LIVE_BASE_URL = 'https://api.africastalking.com';
export const AT_SANDBOX_BASE_URL = 'https://api.sandbox.africastalking.com';

export interface AfricasTalkingConfig {
  baseUrl: string;
  username: string;
  /** A secret: sent as the apiKey header, never logged. */
  apiKey: string;
  /** An approved sender id (alphanumeric or short code); Africa's Talking's default without it. */
  senderId?: string;
  timeoutMs?: number;
}

/**
 * An SMS that did not go. `permanent`: sending it again cannot help (an invalid or blacklisted number, a sender id
 * not approved), so the outbox gives up at once; otherwise it retries with back-off (no balance, their fault, no answer).
 */
export class SmsError extends Error {
  constructor(message: string, readonly permanent: boolean, readonly statusCode?: number) {
    super(message);
    this.name = 'SmsError';
  }
}

/** Africa's Talking's per-recipient status codes: 100–102 are accepted, the rest are refusals. */
const ACCEPTED = new Set([100, 101, 102]);
const PERMANENT: Record<number, string> = {
  402: 'InvalidSenderId',
  403: 'InvalidPhoneNumber',
  404: 'UnsupportedNumberType',
  406: 'UserInBlacklist',
  407: 'CouldNotRoute',
  409: 'DoNotDisturbRejection',
};

interface AtRecipient { statusCode?: unknown; status?: unknown; number?: unknown; messageId?: unknown }

export class AfricasTalkingSms implements Notifier {
  readonly channel = 'sms' as const;
  private readonly http: AxiosInstance;

  constructor(private readonly config: AfricasTalkingConfig, private readonly logger?: Logger) {
    this.http = axios.create({
      baseURL: config.baseUrl.replace(/\/+$/, ''),
      timeout: config.timeoutMs ?? 10_000,
      headers: { Accept: 'application/json', apiKey: config.apiKey },
      // Every answer is read here: a 4xx/5xx body still says what went wrong.
      validateStatus: () => true,
    });
  }

  /** Sends one SMS to message.to (+2547…). Resolves once Africa's Talking accepted it; throws SmsError otherwise. */
  async send(message: OutgoingMessage): Promise<void> {
    const form = new URLSearchParams({ username: this.config.username, to: message.to, message: message.text });
    if (this.config.senderId) form.set('from', this.config.senderId);
    let res;
    try {
      res = await this.http.post('/version1/messaging', form.toString(), {
        headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
      });
    } catch (err) {
      // No answer (timeout, refused connection): it may or may not have gone; the outbox tries again later.
      const code = (err as { code?: string }).code ?? 'no answer';
      throw new SmsError(`Africa's Talking did not answer (${code})`, false);
    }
    if (res.status === 401) throw new SmsError("Africa's Talking refused the credentials (HTTP 401): check AT_USERNAME and AT_API_KEY", false, 401);
    if (res.status >= 500) throw new SmsError(`Africa's Talking failed (HTTP ${res.status})`, false, res.status);
    const recipients = (res.data as { SMSMessageData?: { Recipients?: AtRecipient[]; Message?: unknown } })?.SMSMessageData?.Recipients;
    if (res.status >= 400 || !Array.isArray(recipients) || recipients.length === 0) {
      const said = typeof res.data === 'string' ? res.data.slice(0, 100) : String((res.data as { SMSMessageData?: { Message?: unknown } })?.SMSMessageData?.Message ?? '');
      throw new SmsError(`Africa's Talking sent it to nobody (HTTP ${res.status}${said ? `: ${said}` : ''})`, res.status >= 400 && res.status < 500, res.status);
    }
    const r = recipients[0]!;
    const statusCode = Number(r.statusCode);
    if (ACCEPTED.has(statusCode)) {
      this.logger?.debug({ notificationId: message.about.notificationId, statusCode, messageId: r.messageId }, 'SMS accepted');
      return;
    }
    const status = typeof r.status === 'string' ? r.status : PERMANENT[statusCode] ?? 'refused';
    throw new SmsError(`Africa's Talking refused the SMS: ${statusCode} ${status}`, statusCode in PERMANENT, statusCode);
  }
}

/**
 * SMS_PROVIDER=log: no credentials, nothing sent. One log line per SMS, a summary only (masked number, length): the
 * text holds the ticket code and the ticket's link, which let whoever reads it into the show.
 */
export class LogSms implements Notifier {
  readonly channel = 'sms' as const;
  constructor(private readonly logger: Logger) {}

  async send(message: OutgoingMessage): Promise<void> {
    const { notificationId, kind } = message.about;
    this.logger.info(
      { event: 'sms.logged', notificationId, kind, to: maskIntl(message.to), characters: message.text.length },
      `SMS ${notificationId}: ${kind} to ${maskIntl(message.to)} (${message.text.length} characters, not sent: SMS_PROVIDER=log)`,
    );
  }
}

/** '+254712345678' → '+2547•••••678'. */
export function maskIntl(phone: string): string {
  return phone.length > 8 ? `${phone.slice(0, 5)}•••••${phone.slice(-3)}` : '•••';
}
