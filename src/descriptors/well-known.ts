import {
  type FileDescriptorProto,
  file_google_protobuf_any,
  file_google_protobuf_api,
  file_google_protobuf_descriptor,
  file_google_protobuf_duration,
  file_google_protobuf_empty,
  file_google_protobuf_field_mask,
  file_google_protobuf_source_context,
  file_google_protobuf_struct,
  file_google_protobuf_timestamp,
  file_google_protobuf_type,
  file_google_protobuf_wrappers,
} from "@bufbuild/protobuf/wkt";

/** Well-known type files, used when a server's descriptors leave them out. */
export const WELL_KNOWN: ReadonlyMap<string, FileDescriptorProto> = new Map(
  [
    file_google_protobuf_any,
    file_google_protobuf_api,
    file_google_protobuf_descriptor,
    file_google_protobuf_duration,
    file_google_protobuf_empty,
    file_google_protobuf_field_mask,
    file_google_protobuf_source_context,
    file_google_protobuf_struct,
    file_google_protobuf_timestamp,
    file_google_protobuf_type,
    file_google_protobuf_wrappers,
  ].map((f) => [f.proto.name, f.proto]),
);

/** Returns the bundled copy of a well-known type file, if `name` is one. */
export function wellKnownFile(name: string): FileDescriptorProto | undefined {
  return WELL_KNOWN.get(name);
}

/** Every bundled well-known type file. */
export function wellKnownFiles(): Iterable<FileDescriptorProto> {
  return WELL_KNOWN.values();
}
