/** Stable codes of {@link DescriptorError}. */
export type DescriptorErrorCode =
  | "not_found"
  | "invalid"
  | "unavailable"
  | "unimplemented"
  | "incomplete"
  | "timeout";

/** Descriptors could not be loaded; `code` tells why. */
export class DescriptorError extends Error {
  override readonly name = "DescriptorError";
  constructor(
    readonly code: DescriptorErrorCode,
    message: string,
  ) {
    super(message);
  }
}
