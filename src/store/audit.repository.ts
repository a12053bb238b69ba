import type { Executor } from '../core/db/transaction.js';
import type { AuditLog } from '../core/db/schema.js';
import { fit } from '../core/db/rows.js';
import { toDbTime } from '../core/db/time.js';

/**
 * The auditlog table's one owner: who did what, append-only. An operator's action writes its audit row in the same
 * transaction as the change it records, so neither exists without the other.
 */

export interface AuditEntry {
  at: Date;
  actor: string;
  action: string;
  ticketId?: number | null;
  callbackId?: number | null;
  detail?: string | null;
}

export async function insertAudit(db: Executor, a: AuditEntry): Promise<void> {
  await db
    .insertInto('auditlog')
    .values({
      at: toDbTime(a.at),
      actor: fit(a.actor, 100)!,
      action: fit(a.action, 50)!,
      ticketId: a.ticketId ?? null,
      callbackId: a.callbackId ?? null,
      detail: a.detail ?? null,
    })
    .execute();
}

/** Whether an entry with exactly this action and detail exists (the spool's marker of an entry already moved). */
export async function auditExists(db: Executor, action: string, detail: string): Promise<boolean> {
  const r = await db.selectFrom('auditlog').select('auditId').where('action', '=', action).where('detail', '=', detail).executeTakeFirst();
  return r !== undefined;
}

export async function auditForTicket(db: Executor, ticketId: number): Promise<AuditLog[]> {
  return db.selectFrom('auditlog').selectAll().where('ticketId', '=', ticketId).orderBy('auditId').execute();
}

export async function auditForCallback(db: Executor, callbackId: number): Promise<AuditLog[]> {
  return db.selectFrom('auditlog').selectAll().where('callbackId', '=', callbackId).orderBy('auditId').execute();
}
