/** Helpers every repository shares. */

/** True when a conditional UPDATE changed a row: the caller made the transition (false: the row had left that state). */
export const changed = (r: { numUpdatedRows: bigint }): boolean => Number(r.numUpdatedRows) > 0;

/** Cuts a value to its column's width: MySQL in strict mode refuses longer text, and a refused row would be retried forever. */
export function fit(value: string | null | undefined, width: number): string | null {
  if (value === null || value === undefined) return null;
  return value.length > width ? value.slice(0, width) : value;
}

/** The id MySQL or SQLite gave an inserted row. */
export const insertedId = (r: { insertId?: bigint }): number => Number(r.insertId);
