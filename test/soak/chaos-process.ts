/**
 * The chaos backend (test/support/chaos-backend.ts) in a process of its own, for the soak: the
 * soak's process then holds only the gateway and its clients, so that its memory and handle
 * figures are the gateway's, and a failure of either side is told apart. Started by
 * test/soak/run.ts with `fork`; answers its questions over IPC.
 *
 * Messages in: `{ type: "stats", id }`, `{ type: "close" }`. Out: `{ type: "ready", url }`,
 * `{ type: "stats", id, openStreams, openSessions }`.
 */
import { startChaosBackend } from "../support/chaos-backend.js";

const send = (message: unknown) => process.send?.(message);
if (!process.send) throw new Error("chaos-process.ts runs as a child of test/soak/run.ts (fork)");

const chaos = await startChaosBackend();
process.on("message", (m: { type: string; id?: number }) => {
  if (m.type === "stats") {
    send({ type: "stats", id: m.id, openStreams: chaos.openStreams(), openSessions: chaos.openSessions() });
  } else if (m.type === "close") {
    void chaos.close().then(() => process.exit(0));
  }
});
// The soak going away, however it ends, ends this process too.
process.on("disconnect", () => process.exit(0));
send({ type: "ready", url: chaos.url });
