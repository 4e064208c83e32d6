// The hooks that hold the oracle's long-polls in webhook.bench.ts, in a process of their own: in a
// cluster they are 10,000 pods on other nodes. Held in the load generator's process, their sockets
// made its heap and its garbage collections, and its pauses (up to 10 ms) showed as reviews' latency.
// Started with fork(), the oracle's port as the argument; it answers {kind: "ready"} once it listens,
// then {kind: "hold", uids} starts one hook per uid, {kind: "stop"} ends them and the process.
import { holdWaits } from "./webhook-load.ts";

export type HooksMessage = { readonly kind: "hold"; readonly uids: readonly string[] } | { readonly kind: "stop" };
export type HooksReply = { readonly kind: "ready" };

const port = Number(process.argv[2]);
let waits: ReturnType<typeof holdWaits> | undefined;
process.on("message", (message: HooksMessage) => {
  if (message.kind === "hold") waits = holdWaits(port, message.uids);
  else {
    waits?.stop();
    process.exit(0);
  }
});
process.send?.({ kind: "ready" } satisfies HooksReply);
// Never outlive the bench that forked this process.
process.once("disconnect", () => {
  waits?.stop();
  process.exit(0);
});
