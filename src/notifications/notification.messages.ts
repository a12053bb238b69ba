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
