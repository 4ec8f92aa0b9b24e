import type { Transport } from "@connectrpc/connect";
import { loadFromFile } from "./file-source.js";
import { fetchByReflection } from "./reflection-client.js";
import { buildRegistry, type LoadedDescriptors } from "./registry.js";

export { DescriptorError, type DescriptorErrorCode } from "./errors.js";
export type { LoadedDescriptors } from "./registry.js";

/** Where a backend's descriptors come from. */
export type DescriptorSource =
  | { kind: "file"; path: string; origin?: string }
  | { kind: "reflection"; transport: Transport; timeoutMs?: number; origin?: string };

/**
 * Loads descriptors from a FileDescriptorSet / buf image or from gRPC server
 * reflection; both end in the same registry builder.
 */
export async function loadDescriptors(source: DescriptorSource): Promise<LoadedDescriptors> {
  switch (source.kind) {
    case "file":
      return loadFromFile(source.path, source.origin);
    case "reflection": {
      const origin = source.origin ?? "backend";
      const files = await fetchByReflection(source.transport, {
        origin,
        ...(source.timeoutMs !== undefined ? { timeoutMs: source.timeoutMs } : {}),
      });
      return buildRegistry(files, origin);
    }
  }
}
