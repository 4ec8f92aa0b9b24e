import { type FSWatcher, watch } from "node:fs";
import { basename, dirname } from "node:path";
import { isDeepStrictEqual } from "node:util";
import {
  type BackendServices,
  buildSurface,
  buildTools,
  type Surface,
  type ToolDef,
} from "./catalog/index.js";
import type { BackendConfig, GatewayConfig } from "./config/index.js";
import { DescriptorError, type LoadedDescriptors, loadDescriptors } from "./descriptors/index.js";
import {
  type BackendHandle,
  type BackendTransport,
  createArgumentValidator,
  createBackendTransport,
  createReflectionTransport,
  InflightLimit,
} from "./invoke/index.js";
import type { Catalog } from "./mcp/index.js";
import type { Logger } from "./observe/index.js";

/** A catalog with its parts, as the gateway serves it. */
export type CatalogParts = Catalog & { readonly tools: ToolDef[]; readonly surface: Surface };

/** What a reload did (`Gateway.reload`). */
export interface ReloadOutcome {
  /** A new catalog was swapped in. */
  readonly changed: boolean;
  /** Tools in the catalog being served after the reload. */
  readonly tools: number;
  /** Why the reload (or a backend's part of it) failed; what failed keeps what it served before. */
  readonly error?: string;
}

/** One backend as the gateway sees it: its settings and, once loaded, its descriptors and connections. */
interface Slot {
  readonly config: BackendConfig;
  /** Its connections; kept across reloads while its settings stay the same. */
  transport?: BackendTransport;
  services?: BackendServices["services"];
  handle?: BackendHandle;
  /** Digest of the descriptors behind `services`. */
  fingerprint?: string;
  /** The last failure to load its descriptors, while it has none. */
  error?: string;
  timer?: NodeJS.Timeout;
  /** A reload dropped or replaced it: its retries stop. */
  retired?: boolean;
}

/** Options of {@link createBackendSet}. */
export interface BackendSetOptions {
  readonly logger: Logger;
  /** Wraps each backend handle (metrics, traces). */
  readonly wrap: (handle: BackendHandle) => BackendHandle;
  /** First delay before retrying an unreachable backend (doubles up to 30 s). */
  readonly retryMs: number;
  /** Reads the configuration again (SIGHUP, the admin Reload RPC); absent: only descriptors are re-read. */
  readonly reloadConfig?: () => Promise<GatewayConfig>;
  /** Serves another catalog; called one at a time, after start-up only. */
  readonly serve: (next: CatalogParts) => void;
  /** Told of each reload that failed, in whole or for a backend. */
  readonly reloadFailed?: () => void;
}

/** The gateway's backends: loading, retrying, reloading and watching their descriptors. */
export interface BackendSet {
  /** Each backend's first load; unusable descriptors or a clash throw, unreachable backends are retried. */
  start(): Promise<void>;
  /** The catalog of the backends that are ready. */
  catalog(): CatalogParts;
  /** The settings in use for the backend named `name` (a reload may have added or changed them). */
  settings(name: string): BackendConfig | undefined;
  /** Each configured backend, in config order. */
  statuses(): readonly { name: string; target: string; ready: boolean; error?: string }[];
  /**
   * Reads every ready backend's descriptors again (and the configuration file when `withConfig` and
   * a reader was given), then serves the new catalog if anything changed. One reload runs at a time.
   */
  reload(withConfig: boolean): Promise<ReloadOutcome>;
  /** Stops retries, the reload timer and file watches. */
  stop(): void;
  /** Ends every backend's connections, retired ones included. */
  close(): void;
}

/** Longest wait between two attempts to reach a backend that is down. */
const MAX_RETRY_MS = 30_000;
/** Quiet time after a descriptor file changes before it is read (editors write in several steps). */
const WATCH_SETTLE_MS = 200;

/**
 * Creates the set of backends of `config`. A backend that cannot be reached
 * for its descriptors does not stop the gateway: it is retried with
 * exponential backoff and its tools are served when it answers. A reload —
 * every `reload_interval`, when a descriptor file changes, on SIGHUP or from
 * the admin API — swaps in a new catalog only when descriptors or backends
 * changed, and a backend whose new descriptors cannot be used keeps the ones
 * it had; a clash between backends keeps the whole catalog.
 */
export function createBackendSet(config: GatewayConfig, options: BackendSetOptions): BackendSet {
  const { logger } = options;
  /** Backend calls in flight over all backends (each backend also has its own bound). */
  const inflight = new InflightLimit(config.maxInflight);
  let slots: Slot[] = config.backends.map((b) => ({ config: b }));
  /** The catalog being served (of the slots that are ready). */
  let current: CatalogParts = { tools: [], surface: buildSurface([]), backends: new Map() };
  let stopped = false;
  /** Connections of backends a reload replaced, closed once calls under way on them had time to end. */
  const retiring = new Set<BackendTransport>();
  const watchers = new Map<string, FSWatcher>();
  let settle: NodeJS.Timeout | undefined;
  let queue: Promise<unknown> = Promise.resolve();

  /** Runs `task` after every task queued before it: catalogs change one at a time. */
  function serial<T>(task: () => Promise<T>): Promise<T> {
    const run = queue.then(task, task);
    queue = run.catch(() => {});
    return run;
  }

  /**
   * Reloads from a timer or a file watch. Nobody awaits it, and `reloadNow` reports a backend's or the
   * catalog's failure itself, but not a throw from `options.serve`: log that here, since a rejection
   * left unhandled would end the process.
   */
  function reloadInBackground(): void {
    serial(() => reloadNow(false)).catch((err: unknown) => {
      options.reloadFailed?.();
      logger.error({ error: messageOf(err) }, `reload failed: ${messageOf(err)}`);
    });
  }

  /** A backend's descriptors, or why they could not be had: `down` when it could not be reached. */
  async function fetch(b: BackendConfig): Promise<LoadedDescriptors | { down: string }> {
    const origin = `backend "${b.name}"`;
    if (b.descriptors.kind === "file") return loadDescriptors({ ...b.descriptors, origin });
    // Reflection is a gRPC service: always asked over gRPC, whatever the backend's call protocol.
    const reflection = createReflectionTransport(b.target, { tls: b.tls, headers: b.headers });
    try {
      return await loadDescriptors({
        kind: "reflection",
        transport: reflection.transport,
        origin: `${origin} (${b.target})`,
      });
    } catch (err) {
      if (err instanceof DescriptorError && (err.code === "unavailable" || err.code === "timeout")) {
        return { down: err.message };
      }
      throw err;
    } finally {
      reflection.close();
    }
  }

  /** Gives `slot` the services it serves from `loaded`, and a handle to call them. */
  function attach(slot: Slot, loaded: LoadedDescriptors): void {
    const b = slot.config;
    const wanted = new Set(b.services);
    const services = loaded.services.filter((s) => wanted.size === 0 || wanted.has(s.typeName));
    for (const name of wanted) {
      if (!services.some((s) => s.typeName === name)) {
        throw new Error(`backend "${b.name}": service ${name} is not in its descriptors`);
      }
    }
    slot.transport ??= createBackendTransport({
      target: b.target,
      name: b.name,
      protocol: b.protocol,
      maxMessageBytes: config.maxResultBytes,
      tls: b.tls,
      headers: b.headers,
      keepaliveMs: b.keepaliveMs,
      maxAttempts: b.maxAttempts,
    });
    slot.services = services;
    slot.fingerprint = loaded.fingerprint;
    slot.handle = options.wrap({
      name: b.name,
      transport: slot.transport,
      maxResultBytes: config.maxResultBytes,
      limits: [new InflightLimit(b.maxInflight), inflight],
      registry: loaded.registry,
      timeoutMs: b.timeoutMs,
      validator: createArgumentValidator(loaded.registry),
    });
    delete slot.error;
  }

  /** Loads `slot` for the first time: `down` when unreachable; unusable descriptors throw. */
  async function load(slot: Slot): Promise<"ready" | "down"> {
    const loaded = await fetch(slot.config);
    if ("down" in loaded) {
      slot.error = loaded.down;
      return "down";
    }
    attach(slot, loaded);
    return "ready";
  }

  function catalogOf(from: readonly Slot[]): CatalogParts {
    const input: BackendServices[] = [];
    const backends = new Map<string, BackendHandle>();
    for (const slot of from) {
      if (!slot.services || !slot.handle) continue;
      input.push({ backend: slot.config.name, services: slot.services });
      backends.set(slot.config.name, slot.handle);
    }
    return { tools: buildTools(input), surface: buildSurface(input), backends };
  }

  function retry(slot: Slot, delayMs: number): void {
    if (stopped || slot.retired) return;
    logger.warn(
      { backend: slot.config.name, error: slot.error, retryIn: formatMs(delayMs) },
      `backend "${slot.config.name}" is not ready; retrying in ${formatMs(delayMs)}`,
    );
    slot.timer = setTimeout(() => {
      delete slot.timer;
      serial(async () => {
        if (stopped || slot.retired) return;
        try {
          if ((await load(slot)) === "down") return retry(slot, Math.min(delayMs * 2, MAX_RETRY_MS));
          const next = catalogOf(slots);
          current = next;
          options.serve(next);
          const count = next.tools.filter((t) => t.backend === slot.config.name).length;
          logger.info({ backend: slot.config.name, tools: count }, `backend "${slot.config.name}" is ready`);
        } catch (err) {
          // Reachable now, but its descriptors are unusable (or clash with another backend's): an
          // operator must act; keep serving the others and try again later.
          delete slot.services;
          delete slot.handle;
          slot.error = messageOf(err);
          retry(slot, MAX_RETRY_MS);
        }
      }).catch((err: unknown) => {
        // Nobody awaits a retry: a throw left unhandled would end the process.
        logger.error(
          { backend: slot.config.name, error: messageOf(err) },
          `backend "${slot.config.name}": retry failed: ${messageOf(err)}`,
        );
      });
    }, delayMs);
    slot.timer.unref();
  }

  /**
   * The slot `b` is served by after a reload, and what went wrong on the way: the same slot
   * when nothing changed or its descriptors cannot be had now, a new one otherwise.
   */
  async function reloadSlot(b: BackendConfig): Promise<{ slot: Slot; failure?: string }> {
    const named = slots.find((s) => s.config.name === b.name);
    const same = named && isDeepStrictEqual(named.config, b) ? named : undefined;
    // A backend being retried stays with its retries.
    if (same && !same.handle) return { slot: same };
    // A ready backend whose new settings do not work yet keeps serving with the old ones.
    const previous = named?.handle ? named : undefined;
    const slot: Slot = { config: b, ...(same?.transport ? { transport: same.transport } : {}) };
    try {
      const loaded = await fetch(b);
      if ("down" in loaded) {
        if (same) {
          logger.warn(
            { backend: b.name, error: loaded.down },
            `backend "${b.name}": descriptors not re-read (${loaded.down}); keeping those loaded`,
          );
          return { slot: same };
        }
        if (previous) return { slot: previous, failure: `${loaded.down}; keeping its previous settings` };
        slot.error = loaded.down;
        return { slot };
      }
      if (same && same.fingerprint === loaded.fingerprint) return { slot: same };
      attach(slot, loaded);
      return { slot };
    } catch (err) {
      const failure = messageOf(err);
      if (previous) return { slot: previous, failure };
      slot.error = failure;
      return { slot, failure };
    }
  }

  async function reloadNow(withConfig: boolean): Promise<ReloadOutcome> {
    const served = () => current.tools.length;
    if (stopped) return { changed: false, tools: served(), error: "the gateway is stopping" };
    let configs = slots.map((s) => s.config);
    if (withConfig && options.reloadConfig) {
      try {
        const next = await options.reloadConfig();
        configs = [...next.backends];
        const later = restartOnly(config, next);
        if (later.length > 0) {
          logger.warn(
            { settings: later },
            `configuration re-read; ${later.join(", ")} changed and take effect at the next restart`,
          );
        }
      } catch (err) {
        return failed(`the configuration was not reloaded: ${messageOf(err)}`, served());
      }
    }
    const results = await Promise.all(configs.map(reloadSlot));
    const next = results.map((r) => r.slot);
    const failures = results.flatMap((r) => (r.failure ? [r.failure] : []));
    const unchanged = next.length === slots.length && next.every((s, i) => s === slots[i]);
    if (unchanged) {
      if (failures.length > 0) return failed(failures.join("; "), served());
      logger.debug("reload: no change");
      return { changed: false, tools: served() };
    }
    let catalog: CatalogParts;
    try {
      catalog = catalogOf(next);
    } catch (err) {
      // Names that clash across backends: nothing of this reload is served.
      const inUse = new Set(slots.map((s) => s.transport));
      for (const s of next) if (s.transport && !inUse.has(s.transport)) s.transport.close();
      return failed(messageOf(err), served());
    }
    const before = new Set(current.tools.map((t) => t.name));
    for (const old of slots) {
      if (next.includes(old)) continue;
      old.retired = true;
      if (old.timer) clearTimeout(old.timer);
      if (old.transport && !next.some((s) => s.transport === old.transport)) retire(old.transport);
    }
    slots = next;
    current = catalog;
    options.serve(catalog);
    watchFiles();
    // New backends not ready yet: unreachable ones are retried soon, unusable ones later.
    for (const { slot, failure } of results) {
      if (!slot.handle && !slot.timer) retry(slot, failure ? MAX_RETRY_MS : options.retryMs);
    }
    const after = catalog.tools.map((t) => t.name);
    const added = after.filter((n) => !before.has(n));
    const removed = [...before].filter((n) => !after.includes(n));
    logger.info(
      { tools: after.length, added, removed },
      `catalog reloaded: ${after.length} tool${after.length === 1 ? "" : "s"}` +
        (added.length ? `, added ${added.join(", ")}` : "") +
        (removed.length ? `, removed ${removed.join(", ")}` : ""),
    );
    if (failures.length > 0) {
      options.reloadFailed?.();
      logger.error(
        { error: failures.join("; ") },
        `reload failed in part; what failed keeps what it served: ${failures.join("; ")}`,
      );
    }
    return { changed: true, tools: after.length, ...(failures.length ? { error: failures.join("; ") } : {}) };
  }

  function failed(error: string, tools: number): ReloadOutcome {
    options.reloadFailed?.();
    logger.error({ error }, `reload failed; still serving the last good catalog: ${error}`);
    return { changed: false, tools, error };
  }

  /** Closes `transport` once calls under way on it had time to finish (up to the drain timeout). */
  function retire(transport: BackendTransport): void {
    retiring.add(transport);
    setTimeout(() => {
      retiring.delete(transport);
      transport.close();
    }, config.drainTimeoutMs).unref();
  }

  /** Watches the folder of every descriptor file (editors replace files), reloading when one changes. */
  function watchFiles(): void {
    const files = () =>
      slots.flatMap((s) => (s.config.descriptors.kind === "file" ? [s.config.descriptors.path] : []));
    const dirs = new Set(files().map((f) => dirname(f)));
    for (const [dir, watcher] of watchers) {
      if (!dirs.has(dir)) {
        watcher.close();
        watchers.delete(dir);
      }
    }
    for (const dir of dirs) {
      if (watchers.has(dir) || stopped) continue;
      try {
        const watcher = watch(dir, { persistent: false }, (_event, name) => {
          if (name && !files().some((f) => dirname(f) === dir && basename(f) === name.toString())) return;
          clearTimeout(settle);
          settle = setTimeout(reloadInBackground, WATCH_SETTLE_MS);
          settle.unref();
        });
        // A folder that goes away ends its watch; the reload timer still reads the file.
        watcher.on("error", () => {
          watcher.close();
          watchers.delete(dir);
        });
        watchers.set(dir, watcher);
      } catch {
        // Not watchable here (no inotify, say): the reload timer covers it.
      }
    }
  }

  const ticker =
    config.reloadIntervalMs > 0 ? setInterval(reloadInBackground, config.reloadIntervalMs) : undefined;
  ticker?.unref();

  function stop(): void {
    stopped = true;
    if (ticker) clearInterval(ticker);
    clearTimeout(settle);
    for (const s of slots) if (s.timer) clearTimeout(s.timer);
    for (const w of watchers.values()) w.close();
    watchers.clear();
  }

  return {
    async start() {
      try {
        const states = await Promise.all(slots.map(load));
        // Names that clash across backends are a start-up error.
        current = catalogOf(slots);
        slots.forEach((slot, i) => {
          if (states[i] === "down") retry(slot, options.retryMs);
        });
        watchFiles();
      } catch (err) {
        stop();
        for (const s of slots) s.transport?.close();
        throw err;
      }
    },
    catalog: () => current,
    settings: (name) => slots.find((s) => s.config.name === name)?.config,
    statuses: () =>
      slots.map((s) => ({
        name: s.config.name,
        target: s.config.target,
        ready: s.handle !== undefined,
        ...(s.handle ? {} : { error: s.error ?? "" }),
      })),
    reload: (withConfig) => serial(() => reloadNow(withConfig)),
    stop,
    close() {
      stop();
      for (const s of slots) s.transport?.close();
      for (const t of retiring) t.close();
      retiring.clear();
    },
  };
}

/** Settings besides the backends that differ between two configurations: they need a restart. */
function restartOnly(before: GatewayConfig, after: GatewayConfig): string[] {
  const keys = new Set([...Object.keys(before), ...Object.keys(after)]);
  keys.delete("backends");
  const changed = [...keys].filter(
    (k) => !isDeepStrictEqual(before[k as keyof GatewayConfig], after[k as keyof GatewayConfig]),
  );
  // As the file names them: `listen` for host and port, snake_case, durations without their unit.
  const names = changed.map((k) =>
    k === "host" || k === "port"
      ? "listen"
      : k.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`).replace(/_ms$/, ""),
  );
  return [...new Set(names)];
}

function formatMs(ms: number): string {
  return ms % 1000 === 0 ? `${ms / 1000}s` : `${ms}ms`;
}

function messageOf(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
