import { setTimeout as sleep } from 'node:timers/promises';
import type { DatabaseHandle } from '../core/db/database.js';
import { loggableError } from '../core/db/transaction.js';
import type { Logger } from '../core/logger.js';
import type { DarajaClient } from '../daraja/daraja.client.js';
import { DarajaBusyError, DarajaError } from '../daraja/errors.js';
import { explainInitiatorFailure } from '../daraja/initiator.js';
import { dueToSend, findRefund, markAccepted, markUnknown, nextSendAt, releaseAfterBusy, takeForSending } from '../store/refund.repository.js';
import type { RefundApplier } from './refund-applier.js';

export interface RefundSenderDeps {
  database: DatabaseHandle;
  daraja: Pick<DarajaClient, 'reversal'>;
  applier: RefundApplier;
  logger: Logger;
  now: () => Date;
  /** Reversals sent per second at most, by this instance: Daraja's spike arrest refuses bursts (500.003.02). */
  perSecond: number;
  /** How long after Daraja's acknowledgement a missing result is asked about with Transaction Status. */
  resultWaitMs: number;
}

/** Reversals in flight at once from one instance. */
const CONCURRENCY = 4;
const BATCH = 50;
/**
 * A spike-arrest refusal is sent again after this (with jitter), doubled with each refusal of the same refund up to the
 * cap; the whole instance also slows down for a moment. Spike arrest counts requests per second, so a short wait is
 * what it asks for, and a long one only delays the customer's money.
 */
const BUSY_BASE_MS = 200;
const BUSY_CAP_MS = 5_000;
const BUSY_PAUSE_MS = 100;
/** The longest a drain waits for a refused refund's next turn before leaving it to the next run. */
const MAX_IDLE_WAIT_MS = 5_000;

/**
 * Sends recorded refunds to Daraja, each at most once: a refund is sent only by the caller whose takeForSending
 * changed its row. Daraja's answer decides what follows: accepted (its ConversationIDs stored at once), refused for
 * good (failed, with the reason), refused as busy (spike arrest: nothing was done, so it is sent again later), or no
 * answer (unknown: Transaction Status settles it; never sent again). Sends are paced to `perSecond`.
 */
export class RefundSender {
  private nextSlot = 0;
  private draining: Promise<number> | undefined;
  private stopped = false;
  private readonly inFlight = new Set<Promise<unknown>>();

  constructor(private readonly deps: RefundSenderDeps) {}

  /** Sends one refund now if nobody took it yet (the operator's click). Never throws. */
  send(refundId: number): Promise<void> {
    const p = this.sendOne(refundId).then(() => undefined, (err: unknown) => {
      this.deps.logger.error({ event: 'refunds.send_failed', err: loggableError(err), refundId }, 'refund could not be sent; the sender will look at it again');
    });
    this.inFlight.add(p);
    void p.finally(() => this.inFlight.delete(p));
    return p;
  }

  /**
   * Sends every refund due, paced, waiting for spike-arrest refusals' next turns (up to a few seconds), until none is
   * left. One drain at a time per instance; a call during one joins it. Resolves with how many were sent.
   */
  drain(): Promise<number> {
    this.draining ??= this.runDrain().finally(() => { this.draining = undefined; });
    return this.draining;
  }

  /** Starts a drain in the background (after a show is cancelled). */
  kick(): void {
    this.drain().catch((err: unknown) => this.deps.logger.error({ event: 'refunds.drain_failed', err: loggableError(err) }, 'refund drain failed'));
  }

  async stop(): Promise<void> {
    this.stopped = true;
    await this.draining?.catch(() => undefined);
    await Promise.allSettled([...this.inFlight]);
  }

  private async runDrain(): Promise<number> {
    let sent = 0;
    while (!this.stopped) {
      const due = await dueToSend(this.deps.database.db, this.deps.now(), BATCH);
      if (due.length === 0) {
        const wait = await this.untilNextDue();
        if (wait === undefined || wait > MAX_IDLE_WAIT_MS) break;
        await sleep(Math.max(wait, 20));
        continue;
      }
      let i = 0;
      const worker = async () => {
        while (i < due.length && !this.stopped) {
          const id = due[i++]!;
          await this.pace();
          if (await this.sendOne(id).catch((err: unknown) => {
            this.deps.logger.error({ event: 'refunds.send_failed', err: loggableError(err), refundId: id }, 'refund could not be sent');
            return false;
          })) sent++;
        }
      };
      await Promise.all(Array.from({ length: Math.min(CONCURRENCY, due.length) }, worker));
    }
    return sent;
  }

  /** Milliseconds until the next requested refund may be sent, or undefined when none waits. */
  private async untilNextDue(): Promise<number | undefined> {
    const next = await nextSendAt(this.deps.database.db);
    return next === undefined ? undefined : next.getTime() - this.deps.now().getTime();
  }

  /** Waits for this instance's next sending slot: at most `perSecond` reversals leave per second. */
  private async pace(): Promise<void> {
    const gap = 1000 / this.deps.perSecond;
    const now = Date.now();
    const slot = Math.max(now, this.nextSlot);
    this.nextSlot = slot + gap;
    if (slot > now) await sleep(slot - now);
  }

  /** True when this call sent the reversal (whatever Daraja answered). */
  private async sendOne(refundId: number): Promise<boolean> {
    const { database, daraja, applier, logger } = this.deps;
    if (!(await takeForSending(database.db, refundId, this.deps.now()))) return false;
    const refund = await findRefund(database.db, refundId);
    if (!refund) return false;
    try {
      const ack = await daraja.reversal({ transactionId: refund.transactionId, amount: refund.amount, remarks: `Refund of ticket ${refund.ticketId}`, occasion: `Refund ${refund.refundId}` });
      const now = this.deps.now();
      await markAccepted(database.db, refundId, ack, { now, checkAt: new Date(now.getTime() + this.deps.resultWaitMs) });
      logger.info({ event: 'refunds.accepted', refundId, ticketId: refund.ticketId, conversationId: ack.conversationId }, 'reversal accepted by Daraja');
    } catch (err) {
      const now = this.deps.now();
      if (err instanceof DarajaBusyError) {
        const wait = Math.min(BUSY_CAP_MS, BUSY_BASE_MS * 2 ** Math.min(Math.max(refund.attempts - 1, 0), 10));
        this.nextSlot = Math.max(this.nextSlot, Date.now() + BUSY_PAUSE_MS);
        const retryAt = new Date(now.getTime() + Math.round(wait / 2 + Math.random() * (wait / 2)));
        await releaseAfterBusy(database.db, refundId, retryAt, `Daraja was busy (${err.errorCode ?? err.code}); sending again shortly`, now);
        logger.warn({ event: 'refunds.busy', refundId, errorCode: err.errorCode, retryAt: retryAt.toISOString() }, 'Daraja refused the reversal as busy; it will be sent again');
      } else if (err instanceof DarajaError && err.outcome === 'refused') {
        await applier.failed(refundId, { resultCode: err.errorCode ?? null, reason: refusalReason(err), callbackId: null, actor: 'daraja' });
      } else {
        const why = err instanceof DarajaError ? err.message : String(err);
        await markUnknown(database.db, refundId, 'No answer from Daraja: Transaction Status will tell whether it was reversed', { now, checkAt: new Date(now.getTime() + this.deps.resultWaitMs) });
        logger.warn({ event: 'refunds.unknown', refundId, error: why.slice(0, 300) }, 'reversal unanswered; left for Transaction Status');
      }
    }
    return true;
  }
}

/** Daraja's refusal in words an operator can act on: what Daraja said, and what to fix when it is the set-up. */
function refusalReason(err: DarajaError): string {
  if (err.code === 'DARAJA_INVALID_REQUEST' && (err as { field?: string }).field === 'SecurityCredential') {
    return `The refund was not sent: ${err.errorMessage ?? err.message}.`;
  }
  if (err.code === 'DARAJA_INVALID_REQUEST' && (err as { field?: string }).field === 'Initiator') {
    return 'The refund was not sent: no initiator is configured. Set DARAJA_INITIATOR_NAME and its password or credential (docs/configuration.md).';
  }
  if (err.code === 'DARAJA_AUTH_FAILED') {
    return `Daraja refused our access token for reversals (${err.errorCode ?? `HTTP ${err.httpStatus ?? '?'}`}): is the Reversal product enabled on this Daraja app? npm run daraja:check explains.`;
  }
  const said = err.errorMessage ? `${err.errorCode ?? ''} ${err.errorMessage}`.trim() : err.message;
  return `Daraja refused the reversal: ${explainInitiatorFailure(err.errorCode ?? '', said)}`;
}
