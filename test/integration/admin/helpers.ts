import request from 'supertest';
import type { Express } from 'express';
import type { Db } from '../../../src/core/db/database.js';
import { toDbTime } from '../../../src/core/db/time.js';
import { buildTicket, type TicketOverrides } from '../../support/builders.js';

export const ADMIN_USER = 'ops';
export const ADMIN_PASSWORD = 'counter secret 42';
export const ADMIN_ENV = { ADMIN_USER, ADMIN_PASSWORD };
export const AUTH = `Basic ${Buffer.from(`${ADMIN_USER}:${ADMIN_PASSWORD}`).toString('base64')}`;

/** A cookie-keeping client signed in as the operator (CSRF needs the cookies of the page the token came from). */
export function operator(app: Express) {
  return request.agent(app).auth(ADMIN_USER, ADMIN_PASSWORD);
}

export const at = (iso: string) => toDbTime(new Date(iso));

/** Several tickets (see buildTicket), inserted in the order given; returns their ids in that order. */
export async function makeTickets(db: Db, rows: TicketOverrides[]): Promise<number[]> {
  const ids: number[] = [];
  for (const r of rows) ids.push((await buildTicket(db, r)).ticketId);
  return ids;
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
