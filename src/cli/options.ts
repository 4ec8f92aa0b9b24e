/** One option of a command: how it is read, and the line `--help` prints for it. */
export type OptionSpec =
  | {
      readonly type: "string";
      readonly short?: string;
      /** What the value is, shown as `--name <value>`. */
      readonly value: string;
      /** Used when the option is not given. */
      readonly default?: string;
      /** What happens when the option is not given and there is no default value, for the help. */
      readonly otherwise?: string;
      readonly help: string;
    }
  | { readonly type: "boolean"; readonly short?: string; readonly help: string };

/** A command's options by name; every command also takes `-h, --help`. */
export type OptionSpecs = Readonly<Record<string, OptionSpec>>;

/** The values read for `O`: booleans are false when absent, strings with a default always set. */
export type OptionValues<O extends OptionSpecs> = {
  readonly [K in keyof O]: O[K] extends { type: "boolean" }
    ? boolean
    : O[K] extends { default: string }
      ? string
      : string | undefined;
};
