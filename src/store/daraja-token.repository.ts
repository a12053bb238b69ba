import type { Db } from '../core/db/database.js';
import { fromDbTime, toDbTime } from '../core/db/time.js';
import type { StoredToken, TokenStore } from '../daraja/token-store.js';

/**
 * The darajatoken table's one owner: the Daraja access token, shared by every instance on this database, because
 * Daraja invalidates an app's previous token whenever it issues a new one. The lease is taken by a conditional UPDATE
 * (or the INSERT of the first row), so exactly one instance wins it; the token is saved only by the lease's owner, so
 * an instance whose lease ran out cannot overwrite a newer token. Nothing here logs: the token is a secret.
 */
export class DarajaTokenRepository implements TokenStore {
  constructor(
    private readonly db: Db,
    /** credentialFingerprint(baseUrl, consumerKey) of the Daraja app. */
    private readonly credentialId: string,
    /** Lease times only; real time by default. */
    private readonly now: () => Date = () => new Date(),
  ) {}

  async read(): Promise<StoredToken | undefined> {
    const row = await this.db.selectFrom('darajatoken').select(['accessToken', 'refreshAt'])
      .where('credentialId', '=', this.credentialId).executeTakeFirst();
    if (!row?.accessToken || !row.refreshAt) return undefined;
    return { token: row.accessToken, refreshAt: fromDbTime(row.refreshAt) };
  }

  async tryLease(owner: string, ms: number): Promise<boolean> {
    const now = this.now();
    const at = toDbTime(now);
    const until = toDbTime(new Date(now.getTime() + ms));
    const taken = await this.db.updateTable('darajatoken')
      .set({ leaseOwner: owner, leaseUntil: until, updatedAt: at })
      .where('credentialId', '=', this.credentialId)
      .where((eb) => eb.or([eb('leaseUntil', 'is', null), eb('leaseUntil', '<=', at), eb('leaseOwner', '=', owner)]))
      .executeTakeFirst();
    if (Number(taken.numUpdatedRows) > 0) return true;
    // No row yet (the first fetch ever), or a live lease of another owner: the INSERT wins only in the first case, and
    // only for one of several instances racing to create the row.
    const created = await this.db.insertInto('darajatoken')
      .values({ credentialId: this.credentialId, accessToken: null, refreshAt: null, leaseOwner: owner, leaseUntil: until, updatedAt: at })
      .ignore()
      .executeTakeFirst();
    return Number(created.numInsertedOrUpdatedRows ?? 0) > 0;
  }

  async save(token: string, refreshAt: Date, owner: string): Promise<boolean> {
    const r = await this.db.updateTable('darajatoken')
      .set({ accessToken: token, refreshAt: toDbTime(refreshAt), leaseOwner: null, leaseUntil: null, updatedAt: toDbTime(this.now()) })
      .where('credentialId', '=', this.credentialId)
      .where('leaseOwner', '=', owner)
      .executeTakeFirst();
    return Number(r.numUpdatedRows) > 0;
  }

  async release(owner: string): Promise<void> {
    await this.db.updateTable('darajatoken')
      .set({ leaseOwner: null, leaseUntil: null, updatedAt: toDbTime(this.now()) })
      .where('credentialId', '=', this.credentialId)
      .where('leaseOwner', '=', owner)
      .execute();
  }
}
