import { type GatewayConfig, parseConfig } from "../config/index.js";
import { DEMO_SCOPES } from "./users.js";

/** The processes of the demo, each started as `mcpengine demo --only <part>`. */
export const DEMO_PARTS = ["smack", "idp", "gateway"] as const;
/** One of {@link DEMO_PARTS}. */
export type DemoPart = (typeof DEMO_PARTS)[number];

/** Whether `value` names a part of the demo. */
export function isDemoPart(value: string): value is DemoPart {
  return (DEMO_PARTS as readonly string[]).includes(value);
}

/** What the parts of the demo need to know about each other. */
export interface DemoSettings {
  /** Address the gateway listens on; Smack and the identity provider stay on 127.0.0.1. */
  readonly host: string;
  /** The gateway's port; 0 only before the supervisor picks one (the IdP must know the URL). */
  readonly port: number;
  /** The identity provider's port; 0 picks a free one. */
  readonly idpPort: number;
  /** Smack's gRPC port; 0 picks a free one. */
  readonly smackPort: number;
  /** The gateway validates tokens from the demo's identity provider (default), or is open (`--no-auth`). */
  readonly auth: boolean;
  /** Smack's PGlite folder; in memory when absent (`DATABASE_URL` picks Postgres instead). */
  readonly dataDir?: string;
}

/** The option that sets each part's port, for messages that tell the user what to change. */
export const PORT_FLAG: Readonly<Record<DemoPart, string>> = {
  gateway: "--port",
  idp: "--idp-port",
  smack: "--smack-port",
};

/** What each part is called in messages. */
export const PART_NAME: Readonly<Record<DemoPart, string>> = {
  gateway: "the MCP gateway",
  idp: "the identity provider",
  smack: "Smack",
};

/** Where Smack and the identity provider listen. */
export const LOOPBACK = "127.0.0.1";

/** How clients reach a host: a wildcard address is reached on loopback; IPv6 in brackets. */
function reachable(host: string): string {
  if (host === "0.0.0.0" || host === "::" || host === "") return LOOPBACK;
  return host.includes(":") ? `[${host}]` : host;
}

/** The gateway's MCP endpoint as clients use it, and the audience of its tokens. */
export function mcpUrl(s: Pick<DemoSettings, "host" | "port">): string {
  return `http://${reachable(s.host)}:${s.port}/mcp`;
}

/** The identity provider's issuer identifier. */
export function issuerUrl(idpPort: number): string {
  return `http://${LOOPBACK}:${idpPort}`;
}

/**
 * The gateway's configuration for the demo, as an `mcpengine.yaml` would say it:
 * Smack found by server reflection and, with auth, tokens from the demo's
 * identity provider whose audience is the MCP URL. Smack reads its author from
 * the subject the gateway forwards (`x-mcpengine-subject`); it checks no
 * token itself, so none is forwarded (`identity.mode: none`).
 */
export function gatewayConfig(s: DemoSettings): GatewayConfig {
  const url = new URL(mcpUrl(s));
  return parseConfig(
    JSON.stringify({
      listen: `${s.host.includes(":") ? `[${s.host}]` : s.host}:${s.port}`,
      publicUrl: url.origin,
      serverName: "smack-demo",
      ...(s.auth
        ? {
            auth: {
              issuer: issuerUrl(s.idpPort),
              audience: url.href,
              scopesSupported: Object.keys(DEMO_SCOPES),
              resourceName: "Smack (MCPEngine demo)",
            },
          }
        : {}),
      backends: [
        {
          name: "smack",
          target: `http://${LOOPBACK}:${s.smackPort}`,
          descriptors: "reflection",
          ...(s.auth ? { identity: { mode: "none" } } : {}),
        },
      ],
    }),
    { source: "demo" },
  );
}
