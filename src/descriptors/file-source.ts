import { readFile } from "node:fs/promises";
import { fromBinary } from "@bufbuild/protobuf";
import { FileDescriptorSetSchema } from "@bufbuild/protobuf/wkt";
import { DescriptorError } from "./errors.js";
import { buildRegistry, type LoadedDescriptors } from "./registry.js";

/**
 * Loads a binary `google.protobuf.FileDescriptorSet`, e.g. from
 * `buf build -o image.binpb` (a buf image is wire-compatible with it) or
 * `protoc --include_imports --include_source_info -o`.
 */
export async function loadFromFile(path: string, origin?: string): Promise<LoadedDescriptors> {
  const at = origin ? `${origin}: ` : "";
  let bytes: Uint8Array;
  try {
    bytes = await readFile(path);
  } catch (err) {
    throw new DescriptorError(
      "not_found",
      `${at}cannot read descriptor set ${path}: ${(err as Error).message}`,
    );
  }
  let set: ReturnType<typeof fromBinary<typeof FileDescriptorSetSchema>>;
  try {
    set = fromBinary(FileDescriptorSetSchema, bytes);
  } catch (err) {
    throw new DescriptorError(
      "invalid",
      `${at}${path} is not a FileDescriptorSet: ${(err as Error).message}`,
    );
  }
  if (set.file.length === 0) throw new DescriptorError("invalid", `${at}${path} holds no files`);
  return buildRegistry(set.file, origin ? `${origin} (${path})` : path);
}
