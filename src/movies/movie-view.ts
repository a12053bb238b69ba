import type { Movie } from '../core/db/schema.js';
import { fromDbTime } from '../core/db/time.js';
import { formatNairobi, toNairobiIso } from '../core/time.js';

/** A movie as pages and the JSON API show it. */
export interface MovieView {
  movieId: number;
  title: string;
  description: string;
  /** ISO-8601 with the Nairobi offset. */
  showTime: string;
  showTimeDisplay: string;
  price: number;
  maximumTickets: number;
  ticketsLeft: number;
  imageUrl: string | null;
  soldOut: boolean;
  started: boolean;
  /** The show was cancelled: no booking, and its page says so (with the reason when one was given). */
  cancelled: boolean;
  cancelReason: string | null;
}

export function toMovieView(m: Movie, now = new Date()): MovieView {
  const show = fromDbTime(m.showTime);
  const ticketsLeft = Math.max(0, m.maximumTickets - m.ticketsHeld);
  return {
    movieId: m.movieId,
    title: m.title,
    description: m.description,
    showTime: toNairobiIso(show),
    showTimeDisplay: formatNairobi(show),
    price: m.price,
    maximumTickets: m.maximumTickets,
    ticketsLeft,
    imageUrl: m.imageUrl,
    soldOut: ticketsLeft === 0,
    started: show.getTime() <= now.getTime(),
    cancelled: m.cancelledAt !== null && m.cancelledAt !== undefined,
    cancelReason: m.cancelReason ?? null,
  };
}
