import { Migrator, sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { migrations } from '../../../migrations/index.js';
import { TICKET_CODE_ALPHABET } from '../../../src/bookings/ticket-code.js';
import { migrateToLatest } from '../../../src/core/db/migrate.js';
import { createTestDatabase, dialects, type TestDatabase } from '../../support/db.js';

describe.each(dialects)('migration 007 on %s', (dialect) => {
  let database: TestDatabase;
  beforeAll(async () => {
    database = await createTestDatabase(dialect, { migrate: false });
  });
  afterAll(async () => {
    await database?.drop();
  });

  it('when tickets exist before 007, then each gets its own code, nobody is in yet, and the code is unique from then on', async () => {
    const db = database.db;
    const migrator = new Migrator({ db, provider: { getMigrations: async () => migrations } });
    expect((await migrator.migrateTo('005b-app-secret')).error).toBeUndefined();
    const at = '2030-01-01 00:00:00.000';
    await sql`insert into movie (title, description, showTime, price, maximumTickets, ticketsHeld, createdAt, updatedAt)
      values ('Before 007', '', ${at}, 10, 100, 0, ${at}, ${at})`.execute(db);
    for (let i = 0; i < 30; i++) {
      await sql`insert into ticket (ref, movieId, customerName, phoneNumber, quantity, totalAmount, paymentStatus, holdsTickets,
        pendingSince, createdAt, updatedAt, needsRefund)
        values (${`ref-before-007-${i}`}, (select max(movieId) from movie), 'Old', '254708374149', 1, 10, 'Paid', 1, ${at}, ${at}, ${at}, 0)`.execute(db);
    }
    await migrateToLatest(db);
    const rows = await db.selectFrom('ticket').select(['ticketCode', 'admitted']).execute();
    expect(rows).toHaveLength(30);
    for (const r of rows) {
      expect(r.ticketCode).toMatch(new RegExp(`^[${TICKET_CODE_ALPHABET}]{8}$`));
      expect(r.admitted).toBe(0);
    }
    expect(new Set(rows.map((r) => r.ticketCode)).size).toBe(30);
    const taken = rows[0]!.ticketCode!;
    await expect(db.updateTable('ticket').set({ ticketCode: taken }).where('ticketCode', '=', rows[1]!.ticketCode).execute()).rejects.toThrow();
  });
});
