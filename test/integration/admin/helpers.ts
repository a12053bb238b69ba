import { randomBytes, randomInt } from 'node:crypto';
import request from 'supertest';
import type { Express } from 'express';
import type { Db } from '../../../src/core/db/database.js';
import type {
  CallbackInboxTable, NotificationTable, PushRequestTable, TicketTable,
} from '../../../src/core/db/schema.js';
import type { Insertable } from 'kysely';
import { toDbTime } from '../../../src/core/db/time.js';

export const ADMIN_USER = 'ops';
export const ADMIN_PASSWORD = 'counter secret 42';
export const ADMIN_ENV = { ADMIN_USER, ADMIN_PASSWORD };
export const AUTH = `Basic ${Buffer.from(`${ADMIN_USER}:${ADMIN_PASSWORD}`).toString('base64')}`;

/** A cookie-keeping client signed in as the operator (CSRF needs the cookies of the page the token came from). */
export function operator(app: Express) {
  return request.agent(app).auth(ADMIN_USER, ADMIN_PASSWORD);
}

export const ref = () => randomBytes(18).toString('base64url');
/** A phone no other test uses: 2547 + 8 random digits. */
export const phone = () => `2547${String(randomInt(0, 100_000_000)).padStart(8, '0')}`;
export const at = (iso: string) => toDbTime(new Date(iso));

let seq = 0;

export async function makeMovie(db: Db, over: { title?: string; price?: number; maximumTickets?: number; ticketsHeld?: number; showTime?: Date } = {}): Promise<number> {
  const now = toDbTime(new Date());
  const r = await db
    .insertInto('movie')
    .values({
      title: over.title ?? `Test movie ${++seq} ${randomBytes(3).toString('hex')}`,
      description: 'For a test',
      showTime: toDbTime(over.showTime ?? new Date(Date.now() + 5 * 86_400_000)),
      price: over.price ?? 20,
      maximumTickets: over.maximumTickets ?? 1000,
      ticketsHeld: over.ticketsHeld ?? 0,
      imageUrl: null,
      createdAt: now,
      updatedAt: now,
    })
    .executeTakeFirstOrThrow();
  return Number(r.insertId);
}

export type TicketSeed = Partial<Insertable<TicketTable>> & { movieId: number };

export function ticketRow(over: TicketSeed): Insertable<TicketTable> {
  const created = over.createdAt ?? toDbTime(new Date());
  const status = over.paymentStatus ?? 'Paid';
  const quantity = over.quantity ?? 1;
  return {
    ref: ref(),
    customerName: `Customer ${++seq}`,
    phoneNumber: phone(),
    email: null,
    quantity,
    totalAmount: quantity * 20,
    paymentStatus: status,
    holdsTickets: status === 'Failed' ? 0 : 1,
    mpesaReceiptNumber: status === 'Paid' ? `R${randomBytes(5).toString('hex').toUpperCase()}` : null,
    transactionDate: status === 'Paid' ? created : null,
    resultCode: status === 'Paid' ? '0' : status === 'Failed' ? '1032' : null,
    failureReason: status === 'Failed' ? 'You cancelled the payment on your phone' : null,
    confirmedBy: status === 'Pending' ? null : 'callback',
    needsRefund: 0,
    refundedAt: null,
    pendingSince: created,
    nextCheckAt: null,
    createdAt: created,
    updatedAt: created,
    ...over,
  };
}

export async function makeTicket(db: Db, over: TicketSeed): Promise<{ ticketId: number; ref: string; phoneNumber: string }> {
  const row = ticketRow(over);
  const r = await db.insertInto('ticket').values(row).executeTakeFirstOrThrow();
  return { ticketId: Number(r.insertId), ref: row.ref, phoneNumber: row.phoneNumber };
}

/** Several tickets, inserted in the order given; returns their ids in that order. */
export async function makeTickets(db: Db, rows: TicketSeed[]): Promise<number[]> {
  const ids: number[] = [];
  for (const r of rows) ids.push((await makeTicket(db, r)).ticketId);
  return ids;
}

export async function makePush(db: Db, over: Partial<Insertable<PushRequestTable>> & { ticketId: number }): Promise<number> {
  const now = toDbTime(new Date());
  const r = await db
    .insertInto('pushrequest')
    .values({
      checkoutRequestId: `ws_CO_${randomBytes(8).toString('hex')}`,
      merchantRequestId: `${randomInt(10000, 99999)}-${randomInt(1e6, 9e6)}-1`,
      phoneNumber: '254708374149',
      amount: 20,
      status: 'Accepted',
      resultCode: null,
      resultDesc: null,
      errorCode: null,
      errorMessage: null,
      createdAt: now,
      answeredAt: now,
      completedAt: null,
      ...over,
    })
    .executeTakeFirstOrThrow();
  return Number(r.insertId);
}

export async function makeInbox(db: Db, over: Partial<Insertable<CallbackInboxTable>> = {}): Promise<number> {
  const now = toDbTime(new Date());
  const r = await db
    .insertInto('callbackinbox')
    .values({
      receivedAt: now,
      source: 'callback',
      sourceIp: '196.201.214.200',
      body: '{"Body":{"stkCallback":{"ResultCode":0}}}',
      checkoutRequestId: null,
      outcome: 'applied',
      detail: null,
      ticketId: null,
      processedAt: now,
      ...over,
    })
    .executeTakeFirstOrThrow();
  return Number(r.insertId);
}

export async function makeNotification(db: Db, over: Partial<Insertable<NotificationTable>> & { ticketId: number }): Promise<number> {
  const r = await db
    .insertInto('notification')
    .values({
      kind: 'Paid', channel: 'email', recipient: 'fan@example.com', status: 'sent', attempts: 1, lastError: null,
      lockedUntil: null, createdAt: toDbTime(new Date()), sentAt: toDbTime(new Date()), ...over,
    })
    .executeTakeFirstOrThrow();
  return Number(r.insertId);
}

export async function auditRows(db: Db, where: { ticketId?: number; action?: string }) {
  let q = db.selectFrom('auditlog').selectAll();
  if (where.ticketId !== undefined) q = q.where('ticketId', '=', where.ticketId);
  if (where.action !== undefined) q = q.where('action', '=', where.action);
  return q.orderBy('auditId').execute();
}

/** The CSRF token in the first form of a page fetched by the same agent. */
export function tokenIn(html: string): string {
  const m = /name="_csrf" value="([^"]+)"/.exec(html);
  if (!m) throw new Error('no CSRF token on the page');
  return m[1]!;
}

/** Ticket ids listed in the tickets table of a page, in order. */
export function listedTicketIds(html: string): number[] {
  return [...html.matchAll(/<tr data-ticket-id="(\d+)">/g)].map((m) => Number(m[1]));
}

/** The "next page" link of a list page, HTML entities decoded. */
export function nextLink(html: string): string | undefined {
  const m = /id="next-page" href="([^"]+)"/.exec(html);
  return m ? m[1]!.replace(/&amp;/g, '&') : undefined;
}
