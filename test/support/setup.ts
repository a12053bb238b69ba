import { networkInterfaces } from 'node:os';
import nock from 'nock';
import { afterEach, beforeEach } from 'vitest';

// Runs before every test file: tests never read a developer's .env, and never reach the internet.
process.env.TIKITI_NO_DOTENV = '1';

/**
 * HTTP may go to this machine only: the app under test, the built-in simulator, supertest's servers, spawned apps (over
 * loopback, or at one of this machine's own interface addresses, which the proxy tests need). nock sees HTTP alone
 * (http.request and fetch), so MySQL and Redis (plain TCP) and child processes are untouched; a host with nock
 * interceptors (a fake Daraja at DARAJA_BASE_URL) is answered by them.
 */
const LOOPBACK = /^(127\.0\.0\.1|localhost|\[?::1\]?)(:\d+)?$/;
const OWN_ADDRESSES = new Set(Object.values(networkInterfaces()).flat().flatMap((a) => (a ? [a.address] : [])));
/** nock names a host with its port, and an IPv6 one with or without brackets: 'fd00::2:46189', '[::1]:80'. */
const isOwnAddress = (host: string) => {
  const bare = host.replace(/^\[(.*)\](:\d+)?$/, '$1');
  return OWN_ADDRESSES.has(bare) || OWN_ADDRESSES.has(bare.replace(/:\d+$/, ''));
};

function loopbackOnly(): void {
  nock.disableNetConnect();
  nock.enableNetConnect((host: string) => LOOPBACK.test(host) || isOwnAddress(host));
}

loopbackOnly();
// Again before each test, so no test can leave the network open for the next; interceptors never outlive their test.
beforeEach(loopbackOnly);
afterEach(() => {
  nock.cleanAll();
});
