import { Ajv2020 } from "ajv/dist/2020.js";
import addFormatsModule from "ajv-formats";

const addFormats = addFormatsModule as unknown as (ajv: Ajv2020) => Ajv2020;

/** A draft 2020-12 validator with formats, strict about schema correctness. */
export function createAjv(): Ajv2020 {
  const ajv = new Ajv2020({
    strict: true,
    strictTypes: false,
    strictRequired: false,
    allErrors: true,
    validateFormats: true,
  });
  // The only non-standard keyword we may emit.
  ajv.addKeyword("x-mcp-header");
  return addFormats(ajv);
}
