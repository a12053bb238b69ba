import { fromDbTime } from '../core/db/time.js';
import { formatNairobi } from '../core/time.js';
import { GENERIC_FAILURE } from '../daraja/result-codes.js';
import type { NotificationContent } from '../store/notification.repository.js';

const kes = (n: number) => `KES ${n.toLocaleString('en-KE')}`;

/** Subject and text of the Paid, Failed or Refunded message. No phone number in either: the log channel prints them. */
export function composeMessage(n: NotificationContent, publicBaseUrl: string): { subject: string; text: string } {
  const link = `${publicBaseUrl}/tickets/${n.ref}`;
  const show = `${formatNairobi(fromDbTime(n.showTime))} (Nairobi time)`;
  if (n.kind === 'Paid') {
    const receipt = n.mpesaReceiptNumber
      ? `M-Pesa receipt: ${n.mpesaReceiptNumber}`
      : 'Payment confirmed, receipt to follow.';
    const paidAt = n.transactionDate ? [`Paid at: ${formatNairobi(fromDbTime(n.transactionDate))}`] : [];
    return {
      subject: `Your tickets for ${n.movieTitle}`,
      text: [
        `Hello ${n.customerName},`,
        '',
        'Your payment went through and your tickets are booked.',
        '',
        receipt,
        ...paidAt,
        `Movie: ${n.movieTitle}`,
        `Show: ${show}`,
        `Tickets: ${n.quantity}`,
        `Total: ${kes(n.totalAmount)}`,
        '',
        `Your ticket: ${link}`,
        '',
        'Tikiti',
      ].join('\n'),
    };
  }
  if (n.kind === 'Refunded') {
    return {
      subject: `Refund sent: ${n.movieTitle}`,
      text: [
        `Hello ${n.customerName},`,
        '',
        `${kes(n.totalAmount)} for your ${n.quantity === 1 ? 'ticket' : 'tickets'} to ${n.movieTitle} (${show}) has been sent back to your M-Pesa.`,
        ...(n.mpesaReceiptNumber ? [`It reverses the payment with M-Pesa receipt ${n.mpesaReceiptNumber}.`] : []),
        'The ticket is no longer valid.',
        '',
        'Tikiti',
      ].join('\n'),
    };
  }
  return {
    subject: `Payment not completed: ${n.movieTitle}`,
    text: [
      `Hello ${n.customerName},`,
      '',
      `Your payment of ${kes(n.totalAmount)} for ${n.quantity} ${n.quantity === 1 ? 'ticket' : 'tickets'} to ${n.movieTitle} (${show}) did not go through.`,
      '',
      `Reason: ${n.failureReason || GENERIC_FAILURE}`,
      '',
      `No money was taken. To try again, open your ticket: ${link}`,
      '',
      'Tikiti',
    ].join('\n'),
  };
}

// ── SMS ─────────────────────────────────────────────────────────────────────────────────────────────────────────────
// One SMS is 160 characters of the GSM 03.38 alphabet; a single character outside it (a curly quote, an emoji) turns
// the whole message into UCS-2, 70 characters a part, and the customer is billed for several. So every text is built
// from GSM-7 characters only, and the movie title, the one part we do not write, is cleaned and shortened to fit.

export const SMS_MAX = 160;

const GSM7 = new Set(
  '@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !"#¤%&\'()*+,-./0123456789:;<=>?¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà',
);

/** True when the text goes as one GSM-7 SMS. */
export function fitsOneSms(text: string): boolean {
  return text.length <= SMS_MAX && [...text].every((c) => GSM7.has(c));
}

/** A title in GSM-7 only: accents stripped where that makes it GSM-7, anything else dropped, spaces squeezed. */
function gsmText(s: string): string {
  const out = [...s.replace(/[‘’]/g, "'").replace(/[“”]/g, '"').replace(/[–—]/g, '-')]
    .map((c) => (GSM7.has(c) ? c : c.normalize('NFD').replace(/[\u0300-\u036f]/g, '')))
    .filter((c) => c.length === 1 && GSM7.has(c) && c !== '\n' && c !== '\r')
    .join('');
  return out.replace(/\s+/g, ' ').trim();
}

const smsShowTime = new Intl.DateTimeFormat('en-GB', {
  timeZone: 'Africa/Nairobi', weekday: 'short', day: 'numeric', month: 'short', hour: '2-digit', minute: '2-digit', hour12: false,
});

/** "Sat 14 Jun 20:30", Nairobi time (every time Tikiti shows is; the SMS has no room to say so). */
function showTimeForSms(dbTime: string): string {
  return smsShowTime.format(fromDbTime(dbTime)).replace(/,/g, '');
}

/** The SMS texts, one per kind sent by SMS (store/notification.repository.ts SMS_KINDS). `link` is the short link. */
const SMS_TEXTS: Partial<Record<NotificationContent['kind'], (n: NotificationContent, title: string, link: string) => string>> = {
  Paid: (n, title, link) =>
    `Tikiti: code ${n.ticketCode ?? ''} for ${title}, ${showTimeForSms(n.showTime)}, ${n.quantity} ${n.quantity === 1 ? 'ticket' : 'tickets'}. Show this code at the door. ${link}`,
  // No link and no code: the ticket no longer admits anyone, and the money is already on the phone.
  Refunded: (n, title) =>
    `Tikiti: KES ${n.totalAmount} for ${title}, ${showTimeForSms(n.showTime)}, has been sent back to your M-Pesa. That ticket is no longer valid.`,
};

/**
 * The SMS for a notification: always one GSM-7 SMS (the title is shortened until it fits). The short link
 * (/t/{ref}) opens the ticket: it holds the ticket's reference, so the text is as secret as the ticket itself.
 */
export function composeSms(n: NotificationContent, publicBaseUrl: string): string {
  const text = SMS_TEXTS[n.kind];
  if (!text) throw new Error(`no SMS text for ${n.kind} notifications`);
  const link = `${publicBaseUrl}/t/${n.ref}`;
  let title = gsmText(n.movieTitle) || 'your movie';
  let sms = text(n, title, link);
  while (sms.length > SMS_MAX && title.length > 4) {
    title = `${title.slice(0, Math.max(4, title.length - (sms.length - SMS_MAX) - 2)).trimEnd()}..`;
    sms = text(n, title, link);
  }
  return sms;
}
