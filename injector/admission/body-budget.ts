// A bound on the request-body bytes the webhook holds across all its connections at once. Anyone who
// can reach the port can open connections and send most of a large body, then hold it: per-request
// limits alone let 60 such clients grow the process by hundreds of MB. Past the budget the request
// holding the most bytes gives way (it is answered 503 and its bytes dropped), so one attacker's
// large uploads are the first to go and the API server's reviews, kilobytes each, still fit.

export interface Claim {
  /** Counts `bytes` more for this request; false when the request has given way (now or before). */
  add(bytes: number): boolean;
  /** Returns the request's bytes to the budget (its body was read, or it ended). Idempotent. */
  release(): void;
}

export interface BodyBudget {
  /** A claim for one request; `evict` is called once if the request must give way to another. */
  claim(evict: () => void): Claim;
  /** Bytes held right now. */
  held(): number;
}

interface Holder {
  bytes: number;
  readonly evict: () => void;
}

export function makeBodyBudget(limitBytes: number): BodyBudget {
  const holders = new Set<Holder>();
  let held = 0;

  const drop = (holder: Holder): void => {
    if (!holders.delete(holder)) return;
    held -= holder.bytes;
    holder.bytes = 0;
  };

  /** The holder of the most bytes; linear, but only runs when the budget is exceeded. */
  const largest = (): Holder | undefined => {
    let found: Holder | undefined;
    for (const h of holders) if (found === undefined || h.bytes > found.bytes) found = h;
    return found;
  };

  return {
    claim(evict) {
      const holder: Holder = { bytes: 0, evict };
      holders.add(holder);
      return {
        add(bytes) {
          if (!holders.has(holder)) return false;
          holder.bytes += bytes;
          held += bytes;
          while (held > limitBytes) {
            const victim = largest();
            if (victim === undefined) break;
            drop(victim);
            if (victim !== holder) victim.evict();
          }
          return holders.has(holder);
        },
        release() {
          drop(holder);
        },
      };
    },
    held: () => held,
  };
}
