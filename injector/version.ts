// Replaced at bundle time by esbuild's `define`; the fallback is for running from source.
declare const LAMEDUCK_VERSION: string | undefined;
export const version: string = typeof LAMEDUCK_VERSION === "string" ? LAMEDUCK_VERSION : "0.0.0-dev";
