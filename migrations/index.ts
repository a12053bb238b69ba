import type { Migration } from 'kysely';
import * as initial from './001-initial.js';
import * as adminIndexes from './002-admin-indexes.js';
import * as darajaToken from './003-daraja-token.js';
import * as ticketRefBinary from './005-ticket-ref-binary.js';
import * as appSecret from './005b-app-secret.js';
import * as inboxLease from './006-inbox-lease.js';
import * as ticketCodeAdmitted from './007-ticket-code-admitted.js';
import * as refunds from './008-refunds.js';
import * as receiptUnique from './009-receipt-unique.js';

/** Every migration, in order. Add new ones here; names sort, and applied names are kept in kysely_migration. */
export const migrations: Record<string, Migration> = {
  '001-initial': initial,
  '002-admin-indexes': adminIndexes,
  '003-daraja-token': darajaToken,
  '005-ticket-ref-binary': ticketRefBinary,
  '005b-app-secret': appSecret,
  '006-inbox-lease': inboxLease,
  '007-ticket-code-admitted': ticketCodeAdmitted,
  '008-refunds': refunds,
  '009-receipt-unique': receiptUnique,
};
