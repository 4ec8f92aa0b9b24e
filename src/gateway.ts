import { createResourceServer, type ResourceServer } from "./auth/index.js";
import { buildSurface, buildTools, type Surface, type ToolDef } from "./catalog/index.js";
import type { GatewayConfig } from "./config/index.js";
import { loadDescriptors } from "./descriptors/index.js";
import {
  createMcpHttp,
  createMetadataHandler,
  createOriginPolicy,
  type HttpHandler,
  type HttpListener,
  listen,
  type McpHttp,
} from "./http/index.js";
import { createBackendCredentials } from "./identity.js";
import {
  type BackendHandle,
  createArgumentValidator,
  createBackendTransport,
  createReflectionTransport,
} from "./invoke/index.js";
import { createMcpServer, type McpServer } from "./mcp/index.js";
import { VERSION } from "./version.js";

/** A running (or ready to run) gateway. */
export interface Gateway {
  readonly tools: readonly ToolDef[];
  /** Resources, templates, prompts, completion and subscription handlers. */
  readonly surface: Surface;
  /** The HTTP endpoints (sessions live here). */
  readonly http: McpHttp;
  readonly mcp: McpServer;
  /** The resource server, when auth is configured. */
  readonly auth: ResourceServer | undefined;
  /** Starts the HTTP listener on the configured address. */
  listen(): Promise<HttpListener>;
}

/**
 * Creates a gateway from its configuration: loads every backend's descriptors
 * (file or server reflection), builds the tool catalog — failing fast on name
 * collisions — and wires the MCP core to the Streamable HTTP endpoint.
 */
export async function createGateway(config: GatewayConfig): Promise<Gateway> {
  const handles = new Map<string, BackendHandle>();
  const catalogInput = await Promise.all(
    config.backends.map(async (b) => {
      const transport = createBackendTransport({ target: b.target, name: b.name, protocol: b.protocol });
      const loaded = await loadDescriptors(
        b.descriptors.kind === "file"
          ? b.descriptors
          : // Reflection is a gRPC service: always asked over gRPC, whatever the backend's call protocol.
            { kind: "reflection", transport: createReflectionTransport(b.target) },
      );
      const wanted = new Set(b.services);
      const services = loaded.services.filter((s) => wanted.size === 0 || wanted.has(s.typeName));
      for (const name of wanted) {
        if (!services.some((s) => s.typeName === name)) {
          throw new Error(`backend "${b.name}": service ${name} is not in its descriptors`);
        }
      }
      handles.set(b.name, {
        name: b.name,
        transport,
        registry: loaded.registry,
        timeoutMs: b.timeoutMs,
        validator: createArgumentValidator(loaded.registry),
      });
      return { backend: b.name, services };
    }),
  );
  const tools = buildTools(catalogInput);
  const surface = buildSurface(catalogInput);
  const auth = config.auth
    ? createResourceServer(config.auth, config.publicUrl ? { publicUrl: config.publicUrl } : {})
    : undefined;
  const mcp = createMcpServer({
    info: { name: config.serverName, version: VERSION },
    tools,
    surface,
    backends: handles,
    enforceScopes: auth !== undefined,
    backendHeaders: createBackendCredentials(config),
    ...(config.stateKey ? { stateKey: config.stateKey } : {}),
  });
  const http = createMcpHttp({
    server: mcp,
    maxBodyBytes: config.maxBodyBytes,
    origin: createOriginPolicy({
      bindHost: config.host,
      allowedHosts: config.allowedHosts,
      allowedOrigins: config.allowedOrigins,
    }),
    limits: config.sessions,
    legacyMessagesPath: "/messages",
    ...(auth ? { auth } : {}),
  });
  const routes = new Map<string, HttpHandler>([
    [config.path, http.streamable],
    ["/sse", http.sse],
    ["/messages", http.messages],
  ]);
  if (auth) {
    const metadata = createMetadataHandler(auth);
    for (const path of auth.metadataPaths) routes.set(path, metadata);
  }
  return {
    tools,
    surface,
    http,
    mcp,
    auth,
    async listen() {
      const listener = await listen(config.host, config.port, routes);
      return {
        ...listener,
        close: async () => {
          http.close();
          await listener.close();
        },
      };
    },
  };
}
