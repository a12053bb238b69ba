import type { Executor } from '../core/db/transaction.js';
import { toDbTime } from '../core/db/time.js';
import { countUpcoming, insertMovie } from '../store/movie.repository.js';

const DEMO = [
  { title: 'Oppenheimer', poster: 'oppenheimer', price: 15, maximumTickets: 60, day: 0, hour: 20, minutes: 30,
    description: 'The story of J. Robert Oppenheimer and the making of the atomic bomb. Three hours, worth every minute.' },
  { title: 'The Lion King', poster: 'lion-king', price: 10, maximumTickets: 80, day: 1, hour: 14, minutes: 0,
    description: 'Simba’s journey from cub to king across the Pride Lands. A family matinée.' },
  { title: 'Nairobi Half Life', poster: 'nairobi-half-life', price: 12, maximumTickets: 40, day: 1, hour: 19, minutes: 0,
    description: 'A young actor leaves his village for Nairobi and finds the city harder than any stage.' },
  { title: 'Black Panther', poster: 'black-panther', price: 20, maximumTickets: 100, day: 2, hour: 18, minutes: 0,
    description: 'T’Challa returns home to Wakanda to take his place as king.' },
  { title: 'Dune: Part Two', poster: 'dune', price: 25, maximumTickets: 5, day: 3, hour: 21, minutes: 0,
    description: 'Paul Atreides unites with the Fremen. A small hall: only five seats.' },
];

/** Nairobi wall-clock day `day` from today at hh:mm, as a UTC Date (Nairobi is UTC+3 all year). */
function nairobiAt(now: Date, day: number, hour: number, minutes: number): Date {
  const n = new Date(now.getTime() + 3 * 3600_000);
  const utc = Date.UTC(n.getUTCFullYear(), n.getUTCMonth(), n.getUTCDate() + day, hour - 3, minutes);
  // A show earlier today than now would already have started: move it a week on.
  return utc <= now.getTime() ? new Date(utc + 7 * 86_400_000) : new Date(utc);
}

/**
 * Seeds the demo catalogue when no show is upcoming (a fresh database, or a demo database left alone for weeks).
 * Never called in production.
 */
export async function seedDemoMoviesIfNoneUpcoming(db: Executor, now = new Date()): Promise<number> {
  if ((await countUpcoming(db, now)) > 0) return 0;
  for (const m of DEMO) {
    await insertMovie(db, {
      title: m.title,
      description: m.description,
      showTime: toDbTime(nairobiAt(now, m.day, m.hour, m.minutes)),
      price: m.price,
      maximumTickets: m.maximumTickets,
      imageUrl: `/posters/${m.poster}.svg`,
    }, now);
  }
  return DEMO.length;
}
