/** Small formatting helpers available to every view as `helpers` (views hold no logic beyond calling these). */
export const viewHelpers = {
  kes(amount: number): string {
    return `KES ${amount.toLocaleString('en-KE')}`;
  },
  plural(n: number, one: string, many: string): string {
    return `${n} ${n === 1 ? one : many}`;
  },
};
