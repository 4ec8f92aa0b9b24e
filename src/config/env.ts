import type { JsonObject, JsonValue } from "@bufbuild/protobuf";
import { indexPath, keyPath, type Read } from "./shape.js";

/**
 * Replaces `${NAME}` in every string of a parsed YAML/JSON document with the environment variable
 * `NAME`, so secrets stay out of the file. An unset variable is a problem at the key that names it,
 * not an empty string. Anything that is not JSON (YAML can hold no other kind of value without custom tags)
 * is a problem too, so the result is a `JsonValue` by construction.
 */
export function interpolate(value: unknown, env: NodeJS.ProcessEnv, path = ""): Read {
  if (typeof value === "string") {
    let missing: string | undefined;
    const replaced = value.replace(/\$\{([A-Za-z_][A-Za-z0-9_]*)\}/g, (ref, name: string) => {
      const v = env[name];
      if (v === undefined) missing ??= name;
      return v ?? ref;
    });
    if (missing) return { problem: { path, detail: `environment variable ${missing} is not set` } };
    return { value: replaced };
  }
  if (typeof value === "number" || typeof value === "boolean" || value === null) return { value };
  if (Array.isArray(value)) {
    const out: JsonValue[] = [];
    for (const [i, item] of value.entries()) {
      const read = interpolate(item, env, indexPath(path, i));
      if ("problem" in read) return read;
      out.push(read.value);
    }
    return { value: out };
  }
  if (typeof value === "object") {
    const out: JsonObject = {};
    for (const [key, item] of Object.entries(value)) {
      const read = interpolate(item, env, keyPath(path, key));
      if ("problem" in read) return read;
      out[key] = read.value;
    }
    return { value: out };
  }
  return { problem: { path, detail: `not a JSON value: ${String(value)}` } };
}
