import type { MessageInitShape } from "@bufbuild/protobuf";
import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import type { ServiceImpl } from "@connectrpc/connect";
import type { AdminService, ReloadResponseSchema } from "../../gen/es/mcpengine/v1/admin_pb.js";
import type { AdminSource } from "./source.js";

/**
 * The `mcpengine.v1.AdminService` handlers over a source (proto/mcpengine/v1/admin.proto).
 * Every answer is read from the source when asked; nothing is cached here.
 */
export function createAdminService(source: AdminSource): ServiceImpl<typeof AdminService> {
  return {
    listBackends() {
      return {
        backends: source.backends().map((b) => ({
          name: b.name,
          target: b.target,
          ready: b.ready,
          tools: b.tools,
          error: b.ready ? "" : (b.error ?? ""),
        })),
      };
    },
    getCatalog() {
      // Read the catalog once: a reload may swap it between two reads of the source.
      const tools = source.tools;
      const surface = source.surface;
      return {
        tools: tools.map((t) => ({
          name: t.name,
          backend: t.backend,
          method: `${t.method.parent.typeName}/${t.method.name}`,
        })),
        resources: surface.resources.map((r) => r.uri),
        resourceTemplates: surface.templates.map((t) => t.uriTemplate),
        prompts: surface.prompts.map((p) => p.name),
        loadedAt: timestampFromDate(source.catalogLoadedAt),
      };
    },
    getSessions() {
      const http = source.http;
      return {
        sessions: http.sessionCount(),
        streams: http.streamCount(),
        // A shared store (Redis) keeps the replay buffer: this replica holds none of it.
        replayBytes: BigInt(http.replayBytes() ?? 0),
        running: http.running(),
      };
    },
    async reload() {
      return reloadResponse(source);
    },
  };
}

/**
 * Runs a reload. The source reports expected failures in `error`; should it
 * throw instead, the answer is the same (the catalog being served is kept, as
 * the proto promises), so a caller never has to tell two kinds of failure apart.
 */
async function reloadResponse(source: AdminSource): Promise<MessageInitShape<typeof ReloadResponseSchema>> {
  try {
    const outcome = await source.reload();
    return { changed: outcome.changed, tools: outcome.tools, error: outcome.error ?? "" };
  } catch (err) {
    const why = err instanceof Error ? err.message : String(err);
    return { changed: false, tools: source.tools.length, error: why || "the reload failed" };
  }
}
