export { type ConnectOptions, connectRemote, type StatelessOnly, StatelessOnlyError } from "./detect.js";
export { RemoteRpcError, type RpcError } from "./http.js";
export { createLegacySseRemote, type LegacySseRemoteOptions } from "./legacy-sse.js";
export { CONNECTION_CLOSED } from "./messages.js";
export { DEFAULT_RECONNECT, type ReconnectPolicy } from "./resumable-stream.js";
export { createSessionRemote, type SessionRemoteOptions } from "./session-http.js";
export { MAX_EVENT_SIZE, readSse, type SseEvent, type SseReaderOptions } from "./sse-reader.js";
export { createStatelessRemote, type StatelessRemoteOptions } from "./stateless-http.js";
