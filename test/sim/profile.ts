// Propagation profiles: how long after an EndpointSlice change a consumer starts routing by it.
// kube-proxy reprograms a node in about a second; cloud load balancers take ten seconds or more.
export interface Profile {
  readonly name: string;
  readonly minMs: number;
  readonly maxMs: number;
}

export const profiles = {
  fast: { name: "fast (kube-proxy-like, 0.5-3 s)", minMs: 500, maxMs: 3000 },
  slow: { name: "slow (cloud-LB-like, 10-20 s)", minMs: 10_000, maxMs: 20_000 },
  // The demo's shortened stand-in for a slow consumer: still longer than a fixed sleep 5.
  medium: { name: "medium (ingress-like, 6-10 s)", minMs: 6000, maxMs: 10_000 },
} as const satisfies Record<string, Profile>;

export type Random = () => number;

// mulberry32: a tiny seeded generator, so a run's delays can be reproduced from its seed.
export function seededRandom(seed: number): Random {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export function drawDelayMs(profile: Profile, random: Random): number {
  return profile.minMs + random() * (profile.maxMs - profile.minMs);
}
