import type { BusMessage, ReplicaRegistry, SessionBus } from "./types.js";

type Handler = (message: BusMessage) => void;

/** Where a handler's exception goes: it must reach someone, but never the publisher or other handlers. */
export type HandlerErrorSink = (error: unknown) => void;

/** The default sink: a process warning, so a throwing handler shows up in logs without a crash. */
export function warnHandlerError(error: unknown): void {
  const text = error instanceof Error ? (error.stack ?? error.message) : String(error);
  process.emitWarning(`session bus handler threw: ${text}`, "SessionBusWarning");
}

/**
 * Publish/subscribe per session within one process. `publish` calls the
 * session's handlers at once, synchronously, in the order they subscribed; a
 * handler that throws is reported to the sink and the others still run. The
 * handler list is replaced, never changed in place, when one subscribes or
 * unsubscribes, so `publish` walks it without copying even when a handler
 * unsubscribes while it runs.
 */
export class MemorySessionBus implements SessionBus {
  private readonly handlers = new Map<string, readonly Handler[]>();

  constructor(private readonly onHandlerError: HandlerErrorSink = warnHandlerError) {}

  publish(session: string, message: BusMessage): void {
    const list = this.handlers.get(session);
    if (list) dispatch(list, message, this.onHandlerError);
  }

  subscribe(session: string, handler: Handler): () => void {
    this.handlers.set(session, [...(this.handlers.get(session) ?? []), handler]);
    let subscribed = true;
    return () => {
      if (!subscribed) return;
      subscribed = false;
      const list = this.handlers.get(session) ?? [];
      const at = list.indexOf(handler);
      if (at < 0) return;
      // One subscription ends: the same function subscribed twice stays subscribed once.
      const rest = [...list.slice(0, at), ...list.slice(at + 1)];
      if (rest.length > 0) this.handlers.set(session, rest);
      else this.handlers.delete(session);
    };
  }

  /** Drops every subscription (the shared state is closing). */
  clear(): void {
    this.handlers.clear();
  }
}

/** Calls every handler with `message`, each in its own try: one failing does not stop the rest. */
export function dispatch(list: readonly Handler[], message: BusMessage, onError: HandlerErrorSink): void {
  for (const handler of list) {
    try {
      handler(message);
    } catch (err) {
      onError(err);
    }
  }
}

/** Replica leases within one process: a map of replica id to the end of its lease. */
export class MemoryReplicaRegistry implements ReplicaRegistry {
  private readonly leases = new Map<string, number>();

  renew(replica: string, until: number): void {
    this.leases.set(replica, until);
  }

  alive(replica: string, now: number): boolean {
    return (this.leases.get(replica) ?? 0) > now;
  }

  retire(replica: string): void {
    this.leases.delete(replica);
  }

  /** Forgets every lease (the shared state is closing). */
  clear(): void {
    this.leases.clear();
  }
}
