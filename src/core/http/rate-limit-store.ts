import type { ClientRateLimitInfo, IncrementResponse, Options, Store } from 'express-rate-limit';
import { RedisStore } from 'rate-limit-redis';
import { createClient } from 'redis';
import type { Logger } from '../logger.js';

/**
 * Counts shared through Redis for every limit that must hold across instances (bookings per client, pushes per phone,
 * failed sign-ins): one lazily connected client, and express-rate-limit stores that need Redis only when first used.
 */

export type SendCommand = (...args: string[]) => Promise<string | number | boolean | Array<string | number | boolean>>;

export interface LazyRedis {
  sendCommand: SendCommand;
  close(): Promise<void>;
}

/**
 * One node-redis client shared by every limiter, connected on first use (an app that is never booked never
 * connects), failing fast while Redis is down instead of queueing requests behind it.
 */
export function lazyRedis(url: string, logger: Logger): LazyRedis {
  const client = createClient({
    url,
    disableOfflineQueue: true,
    socket: { connectTimeout: 2000, reconnectStrategy: (retries) => Math.min(100 * 2 ** retries, 5000) },
  });
  let lastError = '';
  client.on('error', (err: Error) => {
    // node-redis emits an error per failed reconnect; log each distinct one once.
    if (err.message !== lastError) logger.error({ err }, 'rate-limit Redis connection error');
    lastError = err.message;
  });
  client.on('ready', () => {
    lastError = '';
  });
  let connecting: Promise<unknown> | undefined;
  let firstWait: Promise<unknown> | undefined;
  let closed = false;

  const sendCommand: SendCommand = async (...args) => {
    if (closed) throw new Error('rate-limit Redis client is closed');
    if (!client.isOpen) {
      connecting ??= client.connect().catch((err: unknown) => {
        connecting = undefined;
        throw err;
      });
    }
    // Only the first use waits (briefly) for the connection; after that a Redis that is down fails at once
    // (disableOfflineQueue) while node-redis reconnects in the background.
    if (connecting) firstWait ??= withTimeout(connecting, 2000, 'connecting to Redis timed out').catch(() => undefined);
    await firstWait;
    return (await client.sendCommand(args)) as Awaited<ReturnType<SendCommand>>;
  };

  return {
    sendCommand,
    async close() {
      if (closed) return;
      closed = true;
      if (!client.isOpen) return;
      if (client.isReady) await client.close().catch(() => client.destroy());
      else client.destroy();
    },
  };
}

function withTimeout<T>(p: Promise<T>, ms: number, message: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([
    p,
    new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(message)), ms);
    }),
  ]).finally(() => clearTimeout(timer));
}

/**
 * rate-limit-redis loads its Lua scripts the moment it is constructed; this builds it on the first request instead,
 * so starting the app never needs Redis and a Redis outage at start cannot crash it.
 */
export class LazyRedisStore implements Store {
  readonly localKeys = false;
  private options?: Options;
  private inner?: Promise<RedisStore>;

  constructor(private readonly send: SendCommand, readonly prefix: string) {}

  init(options: Options): void {
    this.options = options;
  }

  private store(): Promise<RedisStore> {
    this.inner ??= this.send('PING').then(
      () => {
        const s = new RedisStore({ sendCommand: this.send, prefix: this.prefix });
        // Failures here are retried by the store itself on the next command.
        s.incrementScriptSha.catch(() => undefined);
        s.getScriptSha.catch(() => undefined);
        if (this.options) s.init(this.options);
        return s;
      },
      (err: unknown) => {
        this.inner = undefined;
        throw err;
      },
    );
    return this.inner;
  }

  async get(key: string): Promise<ClientRateLimitInfo | undefined> {
    return (await this.store()).get(key);
  }

  async increment(key: string): Promise<IncrementResponse> {
    return (await this.store()).increment(key);
  }

  async decrement(key: string): Promise<void> {
    await (await this.store()).decrement(key);
  }

  async resetKey(key: string): Promise<void> {
    await (await this.store()).resetKey(key);
  }
}
