// What a failed client-node call carried: the HTTP code and the decoded Status body.
import { ApiException } from "@kubernetes/client-node";

export interface Failure {
  readonly code: number;
  readonly status: Record<string, unknown>;
}

export async function failureOf(call: Promise<unknown>): Promise<Failure> {
  try {
    await call;
  } catch (e) {
    if (e instanceof ApiException) {
      const body: unknown = typeof e.body === "string" ? JSON.parse(e.body) : e.body;
      return { code: e.code, status: typeof body === "object" && body !== null ? (body as Record<string, unknown>) : {} };
    }
    throw e;
  }
  throw new Error("expected the call to fail, it succeeded");
}
