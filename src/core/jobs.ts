/** A background job the server starts after it listens and stops first on shutdown (reconciler, senders). */
export interface BackgroundJob {
  name: string;
  start(): void;
  stop(): Promise<void>;
}
