import { timingSafeEqual } from "node:crypto";

/** A user of the demo's identity provider. */
export interface DemoUser {
  /** What is typed at the login page; also the token's `sub`, so Smack shows it as the author. */
  readonly login: string;
  readonly password: string;
  readonly name: string;
  /** The Smack scopes this user may be granted; a login asking for more gets only these. */
  readonly scopes: readonly string[];
  /** What the user may do, in a few words (banner, login page). */
  readonly role: string;
}

/** Every scope the demo's gateway knows, as proto/smack/v1 declares them, with what each allows. */
export const DEMO_SCOPES: Readonly<Record<string, string>> = {
  "smack.read": "Read channels and their messages",
  "smack.write": "Post messages in your name",
};

/**
 * The demo's users: the one place their passwords are written down. They are
 * printed by `mcpengine demo` and shown on the login page; never use them
 * anywhere that matters.
 */
export const DEMO_USERS: readonly DemoUser[] = [
  {
    login: "alice",
    password: "wonderland",
    name: "Alice",
    scopes: ["smack.read", "smack.write"],
    role: "reads and writes",
  },
  { login: "bob", password: "builder", name: "Bob", scopes: ["smack.read"], role: "read-only" },
];

/** The user `login` names, when `password` is theirs. */
export function checkPassword(login: string, password: string): DemoUser | undefined {
  const user = DEMO_USERS.find((u) => u.login === login);
  // Compared in constant time anyway: this is the habit worth copying from a demo.
  return user && sameText(user.password, password) ? user : undefined;
}

/** The user whose login is `login`. */
export function findUser(login: string): DemoUser | undefined {
  return DEMO_USERS.find((u) => u.login === login);
}

function sameText(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}
