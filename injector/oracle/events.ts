// Kubernetes Events on pods when the oracle reports them out of rotation, so `kubectl describe pod`
// shows how long the drain took. A mass rollout must not flood the API with them: a token bucket
// admits a steady rate with a burst, and everything beyond is dropped and counted.
import { CoreV1Api, CoreV1Event, V1EventSource, V1ObjectMeta, V1ObjectReference, type KubeConfig } from "@kubernetes/client-node";
import { Counter, type Registry } from "prom-client";
import type { Logger } from "../log.ts";
import type { PodRef } from "./state.ts";

export interface TokenBucket {
  take(): boolean;
}

export function makeTokenBucket(ratePerSecond: number, burst: number, now: () => number = () => performance.now()): TokenBucket {
  let tokens = burst;
  let last = now();
  return {
    take() {
      const t = now();
      tokens = Math.min(burst, tokens + ((t - last) / 1000) * ratePerSecond);
      last = t;
      if (tokens < 1) return false;
      tokens -= 1;
      return true;
    },
  };
}

export type CreateEvent = (namespace: string, event: CoreV1Event) => Promise<unknown>;

export interface EventRecorderDeps {
  readonly create: CreateEvent;
  readonly registry: Registry;
  readonly logger: Logger;
  /** reportingInstance: the controller pod's name. */
  readonly instance: string;
  readonly bucket?: TokenBucket;
}

export function apiEventCreator(kc: KubeConfig): CreateEvent {
  const core = kc.makeApiClient(CoreV1Api);
  return (namespace, body) => core.createNamespacedEvent({ namespace, body });
}

export function outOfRotationEvent(ref: PodRef, seconds: number, instance: string, at: Date): CoreV1Event {
  return Object.assign(new CoreV1Event(), {
    metadata: Object.assign(new V1ObjectMeta(), {
      // client-go's recorder names events <object>.<hex nanoseconds>; unique enough per pod.
      name: `${ref.name}.${(BigInt(at.getTime()) * 1_000_000n + BigInt(Math.floor(Math.random() * 1_000_000))).toString(16)}`,
      namespace: ref.namespace,
    }),
    involvedObject: Object.assign(new V1ObjectReference(), { apiVersion: "v1", kind: "Pod", namespace: ref.namespace, name: ref.name, uid: ref.uid }),
    reason: "OutOfRotation",
    message: `out of rotation after ${seconds.toFixed(2)}s`,
    type: "Normal",
    count: 1,
    firstTimestamp: at,
    lastTimestamp: at,
    source: Object.assign(new V1EventSource(), { component: "lameduck" }),
    reportingComponent: "lameduck",
    reportingInstance: instance,
  });
}

export function makeEventRecorder(deps: EventRecorderDeps): (ref: PodRef, seconds: number) => void {
  const bucket = deps.bucket ?? makeTokenBucket(10, 50);
  const events = new Counter({
    name: "lameduck_oracle_events_total",
    help: "OutOfRotation Events on pods: recorded, dropped by the rate limit, or failed.",
    labelNames: ["outcome"] as const,
    registers: [deps.registry],
  });
  return (ref, seconds) => {
    if (ref.name === "" || ref.namespace === "") return;
    if (!bucket.take()) {
      events.inc({ outcome: "dropped" });
      return;
    }
    deps.create(ref.namespace, outOfRotationEvent(ref, seconds, deps.instance, new Date())).then(
      () => {
        events.inc({ outcome: "recorded" });
      },
      (err: unknown) => {
        events.inc({ outcome: "failed" });
        deps.logger.warn({ pod: ref.name, namespace: ref.namespace, err: err instanceof Error ? err.message : String(err) }, "could not record OutOfRotation event");
      },
    );
  };
}
