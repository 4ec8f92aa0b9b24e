import { createClient, createRouterTransport } from "@connectrpc/connect";
import { describe, expect, it } from "vitest";
import * as v1 from "../../gen/es/grpc/reflection/v1/reflection_pb.js";
import * as v1alpha from "../../gen/es/grpc/reflection/v1alpha/reflection_pb.js";
import { adminRoutes } from "../../src/admin/index.js";
import { loadDescriptors } from "../../src/descriptors/index.js";
import { silentLogger } from "../../src/observe/index.js";
import { fakeSource } from "./fake-source.js";

function transport() {
  return createRouterTransport(adminRoutes({ source: fakeSource(), logger: silentLogger() }));
}

type Question = v1.ServerReflectionRequest["messageRequest"];

/** Asks v1 (or v1alpha) reflection each question in turn on one stream, and returns the answers. */
async function ask(version: "v1" | "v1alpha", questions: Question[]) {
  const service = version === "v1" ? v1.ServerReflection : v1alpha.ServerReflection;
  const client = createClient(service, transport());
  const requests = async function* () {
    for (const messageRequest of questions) yield { host: "admin", messageRequest };
  };
  const answers = [];
  for await (const res of client.serverReflectionInfo(requests())) answers.push(res.messageResponse);
  return answers;
}

describe("server reflection on the admin listener", () => {
  it("describes AdminService well enough for a reflection client to load it", async () => {
    const loaded = await loadDescriptors({ kind: "reflection", transport: transport(), origin: "admin" });
    const admin = loaded.services.find((s) => s.typeName === "mcpengine.v1.AdminService");
    expect(admin?.methods.map((m) => m.name)).toEqual([
      "ListBackends",
      "GetCatalog",
      "GetSessions",
      "Reload",
    ]);
    expect(
      loaded.registry.getMessage("mcpengine.v1.GetCatalogResponse")?.field.loadedAt?.message?.typeName,
    ).toBe("google.protobuf.Timestamp");
  });

  it.each(["v1", "v1alpha"] as const)(
    "answers %s: services, a method's file with its imports first, a file by name",
    async (version) => {
      const answers = await ask(version, [
        { case: "listServices", value: "" },
        { case: "fileContainingSymbol", value: "mcpengine.v1.AdminService.Reload" },
        { case: "fileByFilename", value: "google/protobuf/timestamp.proto" },
      ]);
      expect(answers[0]).toMatchObject({
        case: "listServicesResponse",
        value: {
          service: [
            expect.objectContaining({ name: "mcpengine.v1.AdminService" }),
            expect.objectContaining({ name: "grpc.reflection.v1.ServerReflection" }),
            expect.objectContaining({ name: "grpc.reflection.v1alpha.ServerReflection" }),
          ],
        },
      });
      const files = (i: number) => {
        const a = answers[i];
        return a?.case === "fileDescriptorResponse" ? a.value.fileDescriptorProto.length : -1;
      };
      expect(files(1)).toBe(2);
      expect(files(2)).toBe(1);
    },
  );

  it("answers NOT_FOUND for an unknown symbol or file, and goes on answering", async () => {
    const answers = await ask("v1", [
      { case: "fileContainingSymbol", value: "mcpengine.v1.AdminService.Shutdown" },
      { case: "fileByFilename", value: "secrets.proto" },
      { case: "fileContainingSymbol", value: ".mcpengine.v1.BackendInfo" },
    ]);
    expect(answers.map((a) => (a.case === "errorResponse" ? a.value.errorCode : a.case))).toEqual([
      5,
      5,
      "fileDescriptorResponse",
    ]);
  });
});
