import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { createFileRegistry, type DescService, type FileRegistry, fromBinary } from "@bufbuild/protobuf";
import { FileDescriptorSetSchema } from "@bufbuild/protobuf/wkt";

/** Path of the buf image of every proto in the repository (with comments). */
export const IMAGE_PATH = fileURLToPath(new URL("../../gen/image.binpb", import.meta.url));

let cached: FileRegistry | undefined;

/** The repository's descriptors, comments included, as a registry. */
export function imageRegistry(): FileRegistry {
  cached ??= createFileRegistry(fromBinary(FileDescriptorSetSchema, readFileSync(IMAGE_PATH)));
  return cached;
}

/** A service from the image, by full name. */
export function imageService(typeName: string): DescService {
  const s = imageRegistry().getService(typeName);
  if (!s) throw new Error(`service ${typeName} not in the image`);
  return s;
}

/** The config entry of backend "inv": the test InventoryService at `target`, described by the image. */
export function inventoryBackend(target: string): {
  name: string;
  target: string;
  descriptors: string;
  services: string[];
} {
  return {
    name: "inv",
    target,
    descriptors: IMAGE_PATH,
    services: ["mcpengine.testing.v1.InventoryService"],
  };
}
