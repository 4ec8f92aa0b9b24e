/**
 * Reading the `WWW-Authenticate` header of a refusal (RFC 9110 §11.6.1,
 * RFC 6750 §3, RFC 9728 §5.1). Servers write it in many shapes, so the parser
 * is lenient and never throws: unreadable input yields what could be read.
 */

/** The Bearer challenge's parameters that steer the client. */
export interface BearerChallenge {
  /** RFC 9728 §5.1: where the server's protected resource metadata lives. */
  readonly resourceMetadata?: string;
  /** RFC 6750 §3: the scopes needed (MCP authorization, "Scope Selection Strategy"). */
  readonly scopes?: readonly string[];
  /** RFC 6750 §3.1: `invalid_token`, `insufficient_scope`, `invalid_request`. */
  readonly error?: string;
  readonly errorDescription?: string;
}

/** One challenge: a scheme (lower case, "" when the header had none) and its parameters. */
export interface Challenge {
  readonly scheme: string;
  readonly params: Readonly<Record<string, string>>;
}

const TCHAR = /[!#$%&'*+\-.^_`|~0-9A-Za-z]/;
const TOKEN68 = /^[A-Za-z0-9\-._~+/]+=*[ \t]*(?:,|$)/;

/**
 * Every challenge in a `WWW-Authenticate` value, in order. Parameter names are
 * lower-cased; quoted values are unescaped; a parameter repeated in one
 * challenge keeps its first value; a token68 is skipped.
 */
export function parseChallenges(header: string): Challenge[] {
  const challenges: { scheme: string; params: Record<string, string> }[] = [];
  let current: { scheme: string; params: Record<string, string> } | undefined;
  let i = 0;
  const skip = (chars: RegExp) => {
    while (i < header.length && chars.test(header.charAt(i))) i++;
  };
  const token = () => {
    const start = i;
    while (i < header.length && TCHAR.test(header.charAt(i))) i++;
    return header.slice(start, i);
  };
  while (i < header.length) {
    skip(/[\s,]/);
    if (i >= header.length) break;
    const name = token();
    if (name === "") {
      i++; // a stray character: step over it
      continue;
    }
    skip(/[ \t]/);
    if (header.charAt(i) === "=") {
      if (current === undefined) {
        // Parameters with no scheme before them: keep them under scheme "".
        current = { scheme: "", params: Object.create(null) };
        challenges.push(current);
      }
      i++;
      skip(/[ \t]/);
      const value = header.charAt(i) === '"' ? quoted() : bare();
      const key = name.toLowerCase();
      if (!Object.hasOwn(current.params, key)) current.params[key] = value;
      continue;
    }
    current = { scheme: name.toLowerCase(), params: Object.create(null) };
    challenges.push(current);
    const t68 = TOKEN68.exec(header.slice(i));
    if (t68) i += t68[0].length;
  }
  return challenges;

  /** An unquoted value; read up to the next comma or space, so a bare URL survives. */
  function bare(): string {
    const start = i;
    while (i < header.length && !/[\s,]/.test(header.charAt(i))) i++;
    return header.slice(start, i);
  }

  function quoted(): string {
    let out = "";
    i++; // opening quote
    while (i < header.length) {
      const c = header.charAt(i++);
      if (c === "\\" && i < header.length) out += header.charAt(i++);
      else if (c === '"') return out;
      else out += c;
    }
    return out; // unterminated: take the rest
  }
}

/**
 * The Bearer challenge of a refusal, or undefined when the header has none.
 * A header of bare parameters (no scheme) is read as Bearer, as some servers send it.
 */
export function parseBearerChallenge(header: string | null | undefined): BearerChallenge | undefined {
  if (!header) return undefined;
  let challenges: Challenge[];
  try {
    challenges = parseChallenges(header);
  } catch {
    return undefined;
  }
  const bearer = challenges.find((c) => c.scheme === "bearer") ?? challenges.find((c) => c.scheme === "");
  if (!bearer) return undefined;
  const { resource_metadata, scope, error, error_description } = bearer.params;
  const scopes = scope?.split(/\s+/).filter((s) => s !== "");
  return {
    ...(resource_metadata ? { resourceMetadata: resource_metadata } : {}),
    ...(scopes && scopes.length > 0 ? { scopes } : {}),
    ...(error ? { error } : {}),
    ...(error_description ? { errorDescription: error_description } : {}),
  };
}
