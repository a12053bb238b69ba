import type { DatabaseHandle } from '../core/db/database.js';
import type { Ticket } from '../core/db/schema.js';
import { inTransaction, isDuplicateKey, loggableError } from '../core/db/transaction.js';
import type { Logger } from '../core/logger.js';
import type { DarajaClient, StkPushAccepted } from '../daraja/daraja.client.js';
import { DarajaError } from '../daraja/errors.js';
import {
  findPush, insertPushRequest, markAccepted, markAnsweredWithError, storeCheckoutId,
} from '../store/push-request.repository.js';
import { findTicket, lockTicket } from '../store/ticket.repository.js';
import { failPending } from './apply-result.js';
import type { ResultApplier } from './result-applier.js';

/**
 * How a push ended for the caller: accepted (a prompt is on its way; the callback or the reconciler settles it),
 * refused (the ticket is Failed with a reason the customer can read), or unknown (no readable answer: the prompt may
 * still reach the phone, so the ticket stays Pending). `not_pending` means no push was sent because the ticket was
 * not waiting for one.
 */
export type PushOutcome =
  | { kind: 'accepted'; checkoutRequestId: string }
  | { kind: 'refused'; reason: string; errorCode?: string }
  | { kind: 'unknown' }
  | { kind: 'not_pending' };

export interface PushServiceDeps {
  database: DatabaseHandle;
  daraja: DarajaClient;
  applier: ResultApplier;
  logger: Logger;
  now: () => Date;
}

/**
 * Sending STK pushes. A push is never repeated by us (a repeat can charge twice): the attempt is recorded before it
 * is sent, and a push whose answer never came stays in doubt until a callback or the reconciler's query settles it.
 */
export class PushService {
  constructor(private readonly deps: PushServiceDeps) {}

  /**
   * For a Pending ticket that holds its seats: records the attempt ('Sending'), sends the STK push, stores Daraja's ids
   * as soon as it answers and then applies any callback that beat that answer. Never throws for Daraja's errors.
   */
  async startPush(ticketId: number): Promise<PushOutcome> {
    const { database, daraja, logger, now } = this.deps;
    const ticket = await findTicket(database.db, ticketId);
    if (ticket?.paymentStatus !== 'Pending' || ticket.holdsTickets !== 1) return { kind: 'not_pending' };
    const pushRequestId = await insertPushRequest(database.db, {
      ticketId, phoneNumber: ticket.phoneNumber, amount: ticket.totalAmount, now: now(),
    });

    let accepted: StkPushAccepted;
    try {
      accepted = await daraja.stkPush({ phoneNumber: ticket.phoneNumber, amount: ticket.totalAmount });
    } catch (e) {
      return this.notAccepted(ticket, pushRequestId, e);
    }

    const { checkoutRequestId } = accepted;
    try {
      await this.recordAccepted(pushRequestId, accepted);
      logger.info({ event: 'payments.push.accepted', ticketId, pushRequestId, checkoutRequestId }, 'STK push accepted');
    } catch (e) {
      // The push is out and may be paid: the callback still finds the attempt by phone and amount, and this line
      // keeps the id for an operator.
      logger.error({ event: 'payments.push.store_failed', err: loggableError(e), ticketId, pushRequestId, checkoutRequestId },
        'STK push accepted but its CheckoutRequestID could not be stored');
    }
    return { kind: 'accepted', checkoutRequestId };
  }

  private async recordAccepted(pushRequestId: number, accepted: StkPushAccepted): Promise<void> {
    const { database, applier, logger, now } = this.deps;
    const { checkoutRequestId, merchantRequestId } = accepted;
    let stored = false;
    try {
      stored = await storeCheckoutId(database.db, pushRequestId, { checkoutRequestId, merchantRequestId });
    } catch (e) {
      if (!isDuplicateKey(e)) throw e;
      logger.error({ event: 'payments.push.id_taken', pushRequestId, checkoutRequestId },
        'Daraja answered with a CheckoutRequestID another attempt already carries; left for an operator');
    }
    if (!stored) {
      // A callback that beat this answer was matched by phone and amount and stored its id first.
      const current = await findPush(database.db, pushRequestId);
      if (current?.checkoutRequestId !== checkoutRequestId) {
        logger.warn({ event: 'payments.push.id_differs', pushRequestId, checkoutRequestId, matched: current?.checkoutRequestId },
          'the push answer names another CheckoutRequestID than the callback matched to this attempt');
      }
    }
    await markAccepted(database.db, pushRequestId, merchantRequestId, now());
    try {
      await applier.applyUnmatched(checkoutRequestId);
    } catch (e) {
      // The id is stored, so the reconciler's next run applies the waiting callback instead.
      logger.error({ event: 'payments.push.unmatched_failed', err: loggableError(e), pushRequestId, checkoutRequestId },
        'could not apply a callback that beat the push answer; the reconciler will');
    }
  }

  private async notAccepted(ticket: Ticket, pushRequestId: number, e: unknown): Promise<PushOutcome> {
    const { database, logger } = this.deps;
    const now = this.deps.now();
    const de = e instanceof DarajaError ? e : undefined;
    const log = { ticketId: ticket.ticketId, pushRequestId, code: de?.code, errorCode: de?.errorCode };
    if (de?.outcome === 'refused') {
      const reason = de.customerMessage;
      const errorCode = de.errorCode ?? de.code;
      await inTransaction(database, async (tx) => {
        const locked = await lockTicket(tx, ticket.ticketId);
        await markAnsweredWithError(tx, pushRequestId, 'Refused', { errorCode, errorMessage: de.errorMessage ?? de.message, now });
        if (locked) await failPending(tx, locked, { resultCode: null, failureReason: reason, now });
      });
      logger.info({ event: 'payments.push.refused', ...log }, 'STK push refused: ticket Failed, tickets released');
      return { kind: 'refused', reason, errorCode };
    }
    // Unknown: the prompt may still reach the phone. Anything that is not a DarajaError is treated the same way,
    // because we cannot tell whether the request left.
    if (!de) logger.error({ event: 'payments.push.error', err: loggableError(e), ...log }, 'STK push failed unexpectedly; treated as unknown');
    await markAnsweredWithError(database.db, pushRequestId, 'Unknown', {
      errorCode: de?.errorCode ?? de?.code ?? 'UNEXPECTED', errorMessage: de?.message ?? String((e as Error)?.message ?? e), now,
    });
    logger.warn({ event: 'payments.push.unknown', ...log }, 'STK push answer unknown: ticket stays Pending');
    return { kind: 'unknown' };
  }
}
