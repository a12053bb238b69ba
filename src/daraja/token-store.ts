import { createHash } from 'node:crypto';

/** An access token as shared between clients: the token and when it should be replaced (60 s before expiry). */
export interface StoredToken {
  token: string;
  refreshAt: Date;
}

/**
 * Where clients of one Daraja app keep its access token. Daraja invalidates the previous token whenever a new one is
 * issued for the same consumer key (Daraja FAQ), so every instance of the app must use the same token and only one of
 * them may fetch a new one at a time. A store is bound to one credential (see credentialFingerprint).
 */
export interface TokenStore {
  /** The latest saved token, whether or not it is still fresh; undefined when none was saved. */
  read(): Promise<StoredToken | undefined>;
  /** Takes the right to fetch a new token for `ms`; true for exactly one owner while the lease lasts. */
  tryLease(owner: string, ms: number): Promise<boolean>;
  /** Saves the token `owner` fetched and ends its lease. Ignored (false) when the lease has passed to another owner. */
  save(token: string, refreshAt: Date, owner: string): Promise<boolean>;
  /** Ends `owner`'s lease without a token (its fetch failed), so another owner may try at once. */
  release(owner: string): Promise<void>;
}

/**
 * The store's key for one Daraja app: sha256 of the base URL and consumer key, so the key itself is never stored and
 * the secret never enters it. Sandbox and production with the same key are different apps.
 */
export function credentialFingerprint(baseUrl: string, consumerKey: string | undefined): string {
  return createHash('sha256').update(`${baseUrl.replace(/\/+$/, '')}\n${consumerKey ?? ''}`).digest('hex');
}

/** The default: one process's memory, so each process holds its own token (enough for a single instance). */
export class MemoryTokenStore implements TokenStore {
  private value?: StoredToken;
  private lease?: { owner: string; until: number };

  read(): Promise<StoredToken | undefined> {
    return Promise.resolve(this.value);
  }

  tryLease(owner: string, ms: number): Promise<boolean> {
    const now = Date.now();
    if (this.lease && this.lease.owner !== owner && this.lease.until > now) return Promise.resolve(false);
    this.lease = { owner, until: now + ms };
    return Promise.resolve(true);
  }

  save(token: string, refreshAt: Date, owner: string): Promise<boolean> {
    if (this.lease?.owner !== owner) return Promise.resolve(false);
    this.value = { token, refreshAt };
    this.lease = undefined;
    return Promise.resolve(true);
  }

  release(owner: string): Promise<void> {
    if (this.lease?.owner === owner) this.lease = undefined;
    return Promise.resolve();
  }
}
