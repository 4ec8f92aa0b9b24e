import { writeFileSync } from "node:fs";
import { dirname, resolve } from "node:path";
import type { OptionSpecs, OptionValues } from "./options.js";

/** The name of the placeholder backend in the starter file, so that a reader (and a test) can find it. */
export const PLACEHOLDER_BACKEND = "my-service";

/** The options of `mcpengine init`, each with its default. */
export const INIT_OPTIONS = {
  output: {
    type: "string",
    short: "o",
    value: "file",
    default: "mcpengine.yaml",
    help: "Where to write the starter configuration",
  },
  force: { type: "boolean", help: "Overwrite the file if it exists" },
} as const satisfies OptionSpecs;

/**
 * The starter `mcpengine.yaml`: it parses as it is (one placeholder backend), and each
 * commented-out setting (a line `# key: value`, or `#   key: value` under a commented
 * section) parses too once uncommented. Prose comments start with a capital letter, so the two
 * kinds of comment can be told apart; test/cli/init.test.ts holds the file to both.
 */
export const STARTER_CONFIG = `# MCPEngine gateway configuration, written by \`mcpengine init\`.
# Every key, with its default, is in docs/configuration.md of the MCPEngine repository.
# \${NAME} is replaced by the environment variable NAME: use it for secrets.
# Relative paths are resolved against the folder of this file.

# The HTTP listener. The MCP endpoint is then http://127.0.0.1:8080/mcp.
# To listen on every interface use "0.0.0.0:8080" and set allowed_hosts (see the docs).
listen: "127.0.0.1:8080"
path: /mcp

# The gRPC services whose RPCs become MCP tools.
backends:
  # PLACEHOLDER: replace this backend with your own gRPC service.
  - name: ${PLACEHOLDER_BACKEND} # unique; used in logs and errors
    target: "http://127.0.0.1:50051" # http:// for plain HTTP/2 (h2c), https:// for TLS
    descriptors: reflection # gRPC server reflection, or a buf image such as my-service.binpb (buf build -o)
    # protocol: grpc # grpc (default), connect or grpc-web
    # timeout: 30s # deadline of each call
    # services: [my.package.v1.MyService] # expose only these services (default: all)

# Auth: accept only access tokens from your identity provider (docs/auth.md).
# Without this section, anyone who can reach the listener can call every tool.
# auth:
#   issuer: "https://idp.example.com/realms/acme"
#   audience: "http://127.0.0.1:8080/mcp" # this gateway's MCP URL, as the tokens name it
#   scopes_supported: [my-service.read, my-service.write]
#   # preset: keycloak # or okta, auth0, entra, google

# Several replicas behind a load balancer share session state in Redis (docs/deploying.md).
# store:
#   redis: "\${REDIS_URL}"
# state_key: "\${MCPENGINE_STATE_KEY}" # 32 or more random bytes, base64; the same on every replica
`;

/**
 * `mcpengine init`: writes {@link STARTER_CONFIG} to `--output` (refusing to
 * replace an existing file unless `--force`), then says what it wrote and
 * which commands come next.
 */
export async function runInit(values: OptionValues<typeof INIT_OPTIONS>): Promise<number> {
  const path = values.output;
  try {
    // "wx" fails if the file exists, in the same step as the write: no window between check and write.
    writeFileSync(path, STARTER_CONFIG, { flag: values.force ? "w" : "wx" });
  } catch (err) {
    const code = err instanceof Error && "code" in err ? err.code : undefined;
    switch (code) {
      case "EEXIST":
        throw new Error(
          `${path} already exists; add --force to overwrite it, or --output <file> to write elsewhere`,
        );
      case "ENOENT":
        throw new Error(`cannot write ${path}: the folder ${dirname(resolve(path))} does not exist`);
      default:
        throw new Error(`cannot write ${path}: ${err instanceof Error ? err.message : String(err)}`);
    }
  }
  process.stdout.write(
    `Wrote ${path}: a starter configuration with one placeholder backend ("${PLACEHOLDER_BACKEND}").\n` +
      "Next: point that backend at your gRPC service, list the tools it gives, then start the gateway:\n" +
      `  mcpengine tools --config ${shellWord(path)}\n` +
      `  mcpengine serve --config ${shellWord(path)}\n`,
  );
  return 0;
}

/** A path as one shell word: as it is when it is plain, else single-quoted. */
function shellWord(text: string): string {
  return /^[\w@%+=:,./-]+$/.test(text) ? text : `'${text.replace(/'/g, "'\\''")}'`;
}
