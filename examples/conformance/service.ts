import { setTimeout as sleep } from "node:timers/promises";
import {
  type handleServerStreamingCall,
  type handleUnaryCall,
  type Metadata,
  type ServerUnaryCall,
  type ServerWritableStream,
  status,
} from "@grpc/grpc-js";
import type { EverythingServiceServer } from "../../gen/grpc-js/conformance/v1/everything.js";
import type {
  CompleteResponse,
  Content,
  PromptResult,
  ResourceResult,
  ToolEvent,
  ToolResult,
} from "../../gen/grpc-js/mcpengine/v1/mcp.js";
import { LogLevel, Role } from "../../gen/grpc-js/mcpengine/v1/mcp.js";
import { elicit, inputOf, inputRequired, sample } from "../shared/input.js";
import { rpcError } from "../shared/rich-status.js";

/** A 1×1 PNG. */
const PNG = Buffer.from(
  "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8DwHwAFBQIAX8jx0gAAAABJRU5ErkJggg==",
  "base64",
);
/** A silent WAV. */
const WAV = Buffer.from("UklGRiYAAABXQVZFZm10IBAAAAABAAEAQB8AAAB9AAACABAAZGF0YQIAAAA=", "base64");

const text = (t: string): Content => ({ text: { text: t }, annotations: undefined });
const image = (): Content => ({ image: { data: PNG, mimeType: "image/png" }, annotations: undefined });
const result = (...content: Content[]): ToolResult => ({
  content,
  structuredContent: undefined,
  isError: false,
});

/** Answers a unary call from an async function; thrown gRPC errors become the status. */
function unary<Req, Res>(
  fn: (req: Req, metadata: Metadata, call: ServerUnaryCall<Req, Res>) => Promise<Res>,
) {
  const handler: handleUnaryCall<Req, Res> = (call, callback) => {
    fn(call.request, call.metadata, call).then(
      (res) => callback(null, res),
      (err) => callback(err),
    );
  };
  return handler;
}

/** Runs a server-streaming handler; a thrown gRPC error ends the stream with that status. */
function streaming<Req, Res>(fn: (call: ServerWritableStream<Req, Res>) => Promise<void>) {
  const handler: handleServerStreamingCall<Req, Res> = (call) => {
    fn(call).then(
      () => call.end(),
      (err) => call.emit("error", err),
    );
  };
  return handler;
}

const info = (message: string): ToolEvent => ({
  log: { level: LogLevel.LOG_LEVEL_INFO, logger: "conformance", data: message },
});

/**
 * Waits `ms` as a job at work would; rejects with CANCELLED as soon as the
 * caller cancels the call (the gateway does when its task is cancelled).
 */
function work(call: { cancelled: boolean; once(event: "cancelled", f: () => void): unknown }, ms: number) {
  return new Promise<void>((resolve, reject) => {
    if (call.cancelled) return reject(rpcError(status.CANCELLED, "cancelled"));
    const timer = setTimeout(resolve, ms);
    call.once("cancelled", () => {
      clearTimeout(timer);
      reject(rpcError(status.CANCELLED, "cancelled"));
    });
  });
}

/** The response of an elicitation, as the fixture reports it. */
function describeAnswer(answer: { [k: string]: unknown } | undefined): string {
  return `action=${String(answer?.action)}, content=${JSON.stringify(answer?.content ?? {})}`;
}

/**
 * The conformance suite's "everything" fixture as an ordinary gRPC service.
 * Every behaviour that involves the client (sampling, elicitation, roots)
 * goes through the generic input-required round trip.
 */
export function createEverythingService(): EverythingServiceServer {
  return {
    simpleText: unary(async () => result(text("This is a simple text response for testing."))),
    imageContent: unary(async () => result(image())),
    audioContent: unary(async () =>
      result({ audio: { data: WAV, mimeType: "audio/wav" }, annotations: undefined }),
    ),
    embeddedResource: unary(async () =>
      result({
        resource: {
          resource: {
            uri: "test://embedded-resource",
            mimeType: "text/plain",
            text: "This is an embedded resource content.",
          },
        },
        annotations: undefined,
      }),
    ),
    multipleContentTypes: unary(async () =>
      result(text("Multiple content types test:"), image(), {
        resource: {
          resource: {
            uri: "test://mixed-content-resource",
            mimeType: "application/json",
            text: JSON.stringify({ test: "data", value: 123 }),
          },
        },
        annotations: undefined,
      }),
    ),
    toolWithLogging: streaming(async (call) => {
      for (const message of ["Tool execution started", "Tool processing data", "Tool execution completed"]) {
        call.write(info(message));
        await sleep(50);
      }
      call.write({ result: result(text("Tool with logging executed successfully")) });
    }),
    toolWithProgress: streaming(async (call) => {
      for (const progress of [0, 50, 100]) {
        call.write({ progress: { progress, total: 100, message: `Completed step ${progress}/100` } });
        if (progress < 100) await sleep(50);
      }
      call.write({ result: result(text("Tool with progress executed successfully")) });
    }),
    errorHandling: unary(async () => {
      throw rpcError(status.INTERNAL, "This tool intentionally returns an error for testing");
    }),
    sampling: unary(async (req, md) => {
      const answer = inputOf(md).responses.llm;
      if (!answer) throw inputRequired({ llm: sample(req.prompt, 100) });
      const content = answer.content as { text?: string } | undefined;
      return result(text(`LLM response: ${content?.text ?? ""}`));
    }),
    elicitation: unary(async (req, md) => {
      const answer = inputOf(md).responses.user;
      if (!answer) {
        throw inputRequired({
          user: elicit(
            req.message,
            {
              username: { type: "string", description: "User's response" },
              email: { type: "string", description: "User's email address" },
            },
            ["username", "email"],
          ),
        });
      }
      return result(text(`User response: ${describeAnswer(answer)}`));
    }),
    elicitationDefaults: unary(async (_req, md) => {
      const answer = inputOf(md).responses.form;
      if (!answer) {
        throw inputRequired({
          form: elicit(
            "Please review and update the form fields with defaults",
            {
              name: { type: "string", description: "User name", default: "John Doe" },
              age: { type: "integer", description: "User age", default: 30 },
              score: { type: "number", description: "User score", default: 95.5 },
              status: {
                type: "string",
                description: "User status",
                enum: ["active", "inactive", "pending"],
                default: "active",
              },
              verified: { type: "boolean", description: "Verification status", default: true },
            },
            [],
          ),
        });
      }
      return result(text(`Elicitation completed: ${describeAnswer(answer)}`));
    }),
    elicitationEnums: unary(async (_req, md) => {
      const answer = inputOf(md).responses.form;
      if (!answer) {
        throw inputRequired({
          form: elicit(
            "Please select options from the enum fields",
            {
              untitledSingle: {
                type: "string",
                description: "Select one option",
                enum: ["option1", "option2", "option3"],
              },
              titledSingle: {
                type: "string",
                description: "Select one option with titles",
                oneOf: [
                  { const: "value1", title: "First Option" },
                  { const: "value2", title: "Second Option" },
                  { const: "value3", title: "Third Option" },
                ],
              },
              legacyEnum: {
                type: "string",
                description: "Select one option (legacy)",
                enum: ["opt1", "opt2", "opt3"],
                enumNames: ["Option One", "Option Two", "Option Three"],
              },
              untitledMulti: {
                type: "array",
                description: "Select multiple options",
                minItems: 1,
                maxItems: 3,
                items: { type: "string", enum: ["option1", "option2", "option3"] },
              },
              titledMulti: {
                type: "array",
                description: "Select multiple options with titles",
                minItems: 1,
                maxItems: 3,
                items: {
                  anyOf: [
                    { const: "value1", title: "First Choice" },
                    { const: "value2", title: "Second Choice" },
                    { const: "value3", title: "Third Choice" },
                  ],
                },
              },
            },
            [],
          ),
        });
      }
      return result(text(`Elicitation completed: ${describeAnswer(answer)}`));
    }),
    inputElicitation: unary(async (_req, md) => {
      const answer = inputOf(md).responses.user_name;
      if (!answer) {
        throw inputRequired({
          user_name: elicit("What is your name?", { name: { type: "string" } }, ["name"]),
        });
      }
      const name = (answer.content as { name?: string } | undefined)?.name ?? "unknown";
      return result(text(`Hello, ${name}!`));
    }),
    inputSampling: unary(async (_req, md) => {
      const answer = inputOf(md).responses.capital_question;
      if (!answer) throw inputRequired({ capital_question: sample("What is the capital of France?", 100) });
      const content = answer.content as { text?: string } | undefined;
      return result(text(`The model answered: ${content?.text ?? ""}`));
    }),
    inputListRoots: unary(async (_req, md) => {
      const answer = inputOf(md).responses.client_roots;
      if (!answer) throw inputRequired({ client_roots: { method: "roots/list", params: {} } });
      const roots = (answer.roots as { uri?: string }[] | undefined) ?? [];
      return result(text(`Client roots: ${roots.map((r) => r.uri).join(", ") || "(none)"}`));
    }),
    inputRequestState: unary(async (_req, md) => {
      const input = inputOf(md);
      const answer = input.responses.confirm;
      if (!answer) {
        throw inputRequired(
          { confirm: elicit("Please confirm", { ok: { type: "boolean" } }, ["ok"]) },
          "awaiting-confirmation",
        );
      }
      const state = Buffer.from(input.requestState).toString("utf8");
      if (state !== "awaiting-confirmation")
        throw rpcError(status.INVALID_ARGUMENT, "unexpected request state");
      return result(text(`state-ok: confirmed=${JSON.stringify(answer.content ?? {})}`));
    }),
    inputMultiple: unary(async (_req, md) => {
      const { responses } = inputOf(md);
      const missing = {
        ...(responses.user_name
          ? {}
          : { user_name: elicit("What is your name?", { name: { type: "string" } }, ["name"]) }),
        ...(responses.greeting ? {} : { greeting: sample("Generate a greeting", 50) }),
        ...(responses.client_roots ? {} : { client_roots: { method: "roots/list", params: {} } }),
      };
      if (Object.keys(missing).length > 0) throw inputRequired(missing, "multiple-inputs");
      return result(text(`All inputs received: ${Object.keys(responses).sort().join(", ")}`));
    }),
    inputMultiRound: unary(async (_req, md) => {
      const { responses, requestState } = inputOf(md);
      const state = Buffer.from(requestState).toString("utf8");
      if (state === "round-2" && responses.step2) {
        const color = (responses.step2.content as { color?: string } | undefined)?.color;
        return result(text(`Both rounds complete: favorite color ${color ?? "unknown"}`));
      }
      if (state === "round-1" && responses.step1) {
        throw inputRequired(
          { step2: elicit("Step 2: What is your favorite color?", { color: { type: "string" } }, ["color"]) },
          "round-2",
        );
      }
      throw inputRequired(
        { step1: elicit("Step 1: What is your name?", { name: { type: "string" } }, ["name"]) },
        "round-1",
      );
    }),
    inputTamperedState: unary(async (_req, md) => {
      const { responses } = inputOf(md);
      if (!responses.confirm) {
        throw inputRequired(
          { confirm: elicit("Please confirm", { ok: { type: "boolean" } }, ["ok"]) },
          "integrity-protected",
        );
      }
      return result(text("state-ok"));
    }),
    inputCapabilities: unary(async (_req, md) => {
      const { responses } = inputOf(md);
      if (Object.keys(responses).length === 0) {
        throw inputRequired({
          confirm: elicit("Please confirm", { ok: { type: "boolean" } }, ["ok"]),
          summary: sample("Summarize the request", 50),
        });
      }
      return result(text(`Answered: ${Object.keys(responses).sort().join(", ")}`));
    }),
    missingCapability: unary(async (_req, md) => {
      const answer = inputOf(md).responses.llm;
      if (!answer) throw inputRequired({ llm: sample("Say hello", 20) });
      return result(text("sampled"));
    }),
    loggingTool: streaming(async (call) => {
      call.write(info("Logging tool started"));
      call.write({ log: { level: LogLevel.LOG_LEVEL_WARNING, logger: "conformance", data: "a warning" } });
      call.write({ result: result(text("Logging tool finished")) });
    }),
    streamingElicitation: streaming(async (call) => {
      const answer = inputOf(call.metadata).responses.user_name;
      call.write({ progress: { progress: 1, total: 2, message: "Preparing" } });
      call.write(info("Asking the user"));
      if (!answer) {
        throw inputRequired({
          user_name: elicit("What is your name?", { name: { type: "string" } }, ["name"]),
        });
      }
      call.write({ result: result(text(`Hello, ${JSON.stringify(answer.content ?? {})}`)) });
    }),

    customHeaders: unary(async (req) => result(text(`Ran in ${req.region}: ${req.query || "(no query)"}`))),

    // Tasks (extension io.modelcontextprotocol/tasks): ordinary RPCs that take a while;
    // their (mcpengine.v1.tool).task option lets the gateway run them as tasks.
    greet: unary(async (req) => result(text(`Hello, ${req.name}!`))),
    slowCompute: unary(async (req, _md, call) => {
      await work(call, Math.max(0, req.seconds) * 1000);
      return result(text(`Computed ${req.label || "a result"} in ${req.seconds} s`));
    }),
    failingJob: unary(async (_req, _md, call) => {
      await work(call, 1_000);
      throw rpcError(status.ABORTED, "The job failed: its input changed while it ran");
    }),
    protocolErrorJob: unary(async (_req, md, call) => {
      const roots = inputOf(md).responses.roots;
      if (!roots) {
        await work(call, 1_000);
        throw inputRequired({ roots: { method: "roots/list", params: {} } });
      }
      return result(text(`Ran over ${JSON.stringify(roots.roots ?? [])}`));
    }),
    confirmDelete: unary(async (req, md, call) => {
      const answer = inputOf(md).responses.confirm;
      if (!answer) {
        await work(call, 1_000);
        throw inputRequired({
          confirm: elicit(`Delete ${req.filename}?`, { confirm: { type: "boolean" } }, ["confirm"]),
        });
      }
      const yes = answer.action === "accept" && (answer.content as { confirm?: unknown })?.confirm === true;
      return result(text(yes ? `Deleted ${req.filename}` : `Kept ${req.filename}`));
    }),
    multiInput: unary(async (_req, md, call) => {
      const { responses } = inputOf(md);
      if (responses.name && responses.confirm) {
        return result(
          text(
            `Answered: name ${describeAnswer(responses.name)}; confirm ${describeAnswer(responses.confirm)}`,
          ),
        );
      }
      await work(call, 1_000);
      throw inputRequired({
        ...(responses.name
          ? {}
          : { name: elicit("What is your name?", { name: { type: "string" } }, ["name"]) }),
        ...(responses.confirm
          ? {}
          : { confirm: elicit("Shall I go on?", { confirm: { type: "boolean" } }, ["confirm"]) }),
      });
    }),
    taskWithInput: unary(async (_req, md, call) => {
      const answer = inputOf(md).responses.user_name;
      if (!answer) {
        throw inputRequired({
          user_name: elicit("What is your name?", { name: { type: "string" } }, ["name"]),
        });
      }
      await work(call, 1_000);
      const name = (answer.content as { name?: string } | undefined)?.name ?? "unknown";
      return result(text(`Hello, ${name}!`));
    }),

    staticText: unary(async () =>
      resource({
        uri: "test://static-text",
        mimeType: "text/plain",
        text: "This is the content of the static text resource.",
      }),
    ),
    staticBinary: unary(async () =>
      resource({ uri: "test://static-binary", mimeType: "image/png", blob: PNG }),
    ),
    watchedResource: unary(async () =>
      resource({
        uri: "test://watched-resource",
        mimeType: "text/plain",
        text: `Watched at ${new Date().toISOString()}`,
      }),
    ),
    templateData: unary(async (req) =>
      resource({
        uri: `test://template/${req.id}/data`,
        mimeType: "application/json",
        text: JSON.stringify({ id: req.id, templateTest: true, data: `Data for ID: ${req.id}` }),
      }),
    ),
    watchResource: streaming(async (call) => {
      // Reports a change every few seconds until the gateway cancels the watch.
      while (!call.cancelled) {
        await sleep(500);
        if (!call.cancelled) call.write({ uri: call.request.uri });
      }
    }),

    simplePrompt: unary(async () => prompt(text("This is a simple prompt for testing."))),
    promptWithArguments: unary(async (req) =>
      prompt(text(`Prompt with arguments: arg1='${req.arg1}', arg2='${req.arg2}'`)),
    ),
    promptWithEmbeddedResource: unary(async (req) =>
      prompt(
        {
          resource: {
            resource: {
              uri: req.resourceUri,
              mimeType: "text/plain",
              text: "Embedded resource content for testing.",
            },
          },
          annotations: undefined,
        },
        text("Please process the embedded resource above."),
      ),
    ),
    promptWithImage: unary(async () => prompt(image(), text("Please analyze the image above."))),
    inputPrompt: unary(async (_req, md) => {
      const answer = inputOf(md).responses.user_context;
      if (!answer) {
        throw inputRequired({
          user_context: elicit("What context should the prompt use?", { context: { type: "string" } }, [
            "context",
          ]),
        });
      }
      const context = (answer.content as { context?: string } | undefined)?.context ?? "";
      return prompt(text(`Use this context: ${context}`));
    }),

    complete: unary(async (req): Promise<CompleteResponse> => {
      const candidates: { [argument: string]: string[] } = {
        arg1: ["paris", "park", "party"],
        arg2: ["world", "wonder"],
        id: ["1", "2", "3", "123"],
      };
      const values = (candidates[req.argument] ?? []).filter((v) => v.startsWith(req.value));
      return { values, total: values.length, hasMore: false };
    }),
  };
}

function resource(contents: ResourceResult["contents"][number]): ResourceResult {
  return { contents: [contents] };
}

function prompt(...content: Content[]): PromptResult {
  return { description: "", messages: content.map((c) => ({ role: Role.ROLE_USER, content: c })) };
}
