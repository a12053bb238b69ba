import { Router } from 'express';
import type { DatabaseHandle } from '../core/db/database.js';
import type { InboxOutcome } from '../core/db/schema.js';
import { loggableError } from '../core/db/transaction.js';
import type { Logger } from '../core/logger.js';
import { parseInitiatorResult } from '../daraja/initiator.js';
import { allowList, callbackRefusal } from '../payments/callback-intake.js';
import { CALLBACK_ACK, CALLBACK_BODY_LIMIT, readBody } from '../payments/callback.routes.js';
import { boundedBody, type RejectedBudget } from '../payments/rejected-budget.js';
import { finishInboxRow, insertInboxRow, type ArrivalOutcome } from '../store/callback-inbox.repository.js';
import type { RefundApplier } from './refund-applier.js';

/** How often, and how far apart, a result that names no known ConversationID is matched again before 'unmatched'. */
const UNMATCHED_LOOKS = 5;
const UNMATCHED_LOOK_MS = 200;

export interface RefundResultIntakeDeps {
  database: DatabaseHandle;
  applier: RefundApplier;
  /** MPESA_CALLBACK_TOKEN: the results are posted under the same secret path segment as the payment callback. */
  callbackToken: string;
  allowedIps: readonly string[];
  /** The callback intake's budget of rejected bodies per source: both URLs share it (the same secret segment). */
  rejected: RejectedBudget;
  logger: Logger;
  now: () => Date;
}

/**
 * What happens to a body posted to ResultURL or QueueTimeOutURL (a reversal's result, or a Transaction Status
 * answer): stored raw in the inbox first (source 'reversal'), with the verdict on its token and source address, then
 * matched to its refund by ConversationID and applied with conditional updates (refund-applier.ts). A repeat, or the
 * same body at another instance, is recorded 'duplicate' and changes nothing. Processing errors leave the row
 * 'received' and are logged; the answer is 200 whatever happened once the body is kept.
 */
export class RefundResultIntake {
  private readonly allowedIps: Set<string>;

  constructor(private readonly deps: RefundResultIntakeDeps) {
    this.allowedIps = allowList(deps.allowedIps);
  }

  /** Stores the body (a rejected one bounded, and past its source's budget only counted: callbackId null). */
  async receive(input: { token: string; sourceIp: string | undefined; rawBody: string; endpoint: 'result' | 'timeout'; oversizeBytes?: number }): Promise<{ callbackId: number | null; outcome: InboxOutcome }> {
    const { database, logger } = this.deps;
    const sourceIp = input.sourceIp ?? null;
    const refusal = callbackRefusal(this.deps.callbackToken, this.allowedIps, input.token, sourceIp);
    const outcome: ArrivalOutcome = refusal ? 'rejected' : input.oversizeBytes !== undefined ? 'invalid' : 'received';
    const detail = refusal ?? (input.oversizeBytes !== undefined ? `body of ${input.oversizeBytes} bytes is over the limit` : `${input.endpoint} URL`);
    if (refusal && !this.deps.rejected.admit(sourceIp)) return { callbackId: null, outcome };
    const body = refusal ? boundedBody(input.rawBody, input.oversizeBytes) : { body: input.rawBody };
    const callbackId = await insertInboxRow(database.db, { source: 'reversal', sourceIp, ...body, outcome, detail, now: this.deps.now() });
    if (outcome !== 'received') {
      logger.warn({ event: 'refunds.result', callbackId, outcome, detail, sourceIp }, `reversal result ${outcome}`);
      return { callbackId, outcome };
    }
    try {
      return { callbackId, outcome: await this.process(callbackId, input.rawBody, input.endpoint) };
    } catch (err) {
      logger.error({ event: 'refunds.result.error', err: loggableError(err), callbackId }, 'reversal result stored but not processed');
      return { callbackId, outcome: 'received' };
    }
  }

  /** Processes a reversal result a crash (or a failed transaction) left 'received': the refund reconciler calls it. */
  async reprocess(row: { callbackId: number; body: string; detail: string | null }): Promise<InboxOutcome> {
    return this.process(row.callbackId, row.body, row.detail?.startsWith('timeout') ? 'timeout' : 'result');
  }

  private async process(callbackId: number, rawBody: string, endpoint: 'result' | 'timeout'): Promise<InboxOutcome> {
    const { database, applier, logger } = this.deps;
    let json: unknown;
    try { json = JSON.parse(rawBody); } catch { json = undefined; }
    const result = parseInitiatorResult(json);
    const now = () => this.deps.now();
    if (!result) {
      await finishInboxRow(database.db, callbackId, 'received', { outcome: 'invalid', detail: 'not a Daraja result (no Result.ResultCode)', now: now() });
      return 'invalid';
    }
    let applied = await applier.applyResult(result, callbackId);
    // Daraja may post the result before our request has stored the ConversationID it answered with (the answer and
    // the result race, as an STK callback can beat its push's answer): look again for a moment before calling it
    // unmatched. Matching writes nothing, so looking again is free of side effects.
    for (let i = 0; applied.outcome === 'unmatched' && i < UNMATCHED_LOOKS; i++) {
      await new Promise((r) => setTimeout(r, UNMATCHED_LOOK_MS));
      applied = await applier.applyResult(result, callbackId);
    }
    await finishInboxRow(database.db, callbackId, 'received', {
      outcome: applied.outcome, detail: `${endpoint === 'timeout' ? 'queue timeout: ' : ''}${applied.detail}`,
      ...(applied.refund ? { ticketId: applied.refund.ticketId } : {}), now: now(),
    });
    logger.info({ event: 'refunds.result', callbackId, outcome: applied.outcome, refundId: applied.refund?.refundId, resultCode: result.resultCode }, `reversal result ${applied.outcome}`);
    return applied.outcome;
  }

}

/**
 * POST /api/payments/result/:token and /api/payments/timeout/:token, mounted beside the callback (before the body
 * parsers and CSRF, reading their own bodies). Always 200 with the callback's acknowledgement once the body is in the
 * inbox; 503 only when it could not be stored, so Daraja's delivery is not acknowledged for a body we did not keep.
 */
export function refundResultRoutes(deps: { intake: Pick<RefundResultIntake, 'receive'>; logger: Logger }): Router {
  const router = Router();
  for (const endpoint of ['result', 'timeout'] as const) {
    router.post(`/api/payments/${endpoint}{/*token}`, async (req, res) => {
      const segments: unknown = (req.params as Record<string, unknown>).token;
      const token = Array.isArray(segments) ? segments.join('/') : '';
      const body = await readBody(req, CALLBACK_BODY_LIMIT);
      try {
        await deps.intake.receive({ token, sourceIp: req.ip, rawBody: body.text, endpoint, ...(body.bytes > CALLBACK_BODY_LIMIT ? { oversizeBytes: body.bytes } : {}) });
      } catch (err) {
        deps.logger.error({ event: 'refunds.result.not_stored', err: loggableError(err) }, 'reversal result could NOT be stored; not acknowledged');
        res.status(503).json({ ResultCode: 1, ResultDesc: 'Temporarily unavailable' });
        return;
      }
      res.status(200).json(CALLBACK_ACK);
    });
  }
  return router;
}
