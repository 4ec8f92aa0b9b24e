import { parseConfig } from "../../../src/config/index.js";
import { createGateway } from "../../../src/gateway.js";

/**
 * One gateway replica as its own process, for tests that kill replicas: the
 * configuration comes as JSON in MCPENGINE_TEST_CONFIG; the URL it listens on
 * is the first line it prints.
 */
const config = parseConfig(process.env.MCPENGINE_TEST_CONFIG ?? "{}", { source: "MCPENGINE_TEST_CONFIG" });
const gateway = await createGateway(config);
const http = await gateway.listen();
process.stdout.write(`${JSON.stringify({ url: http.url })}\n`);
process.on("SIGTERM", () => {
  void http.close().then(() => process.exit(0));
});
