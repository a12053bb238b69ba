import nock from 'nock';
import { afterEach, beforeEach } from 'vitest';

// Runs before every test file: tests never read a developer's .env, and never reach the internet.
process.env.TIKITI_NO_DOTENV = '1';

/**
 * HTTP may go to this machine only: the app under test, the built-in simulator, supertest's servers, spawned apps. nock
 * sees HTTP alone (http.request and fetch), so MySQL and Redis (plain TCP) and child processes are untouched; a host
 * with nock interceptors (a fake Daraja at DARAJA_BASE_URL) is answered by them.
 */
const LOOPBACK = /^(127\.0\.0\.1|localhost|\[?::1\]?)(:\d+)?$/;

function loopbackOnly(): void {
  nock.disableNetConnect();
  nock.enableNetConnect((host: string) => LOOPBACK.test(host));
}

loopbackOnly();
// Again before each test, so no test can leave the network open for the next; interceptors never outlive their test.
beforeEach(loopbackOnly);
afterEach(() => {
  nock.cleanAll();
});
