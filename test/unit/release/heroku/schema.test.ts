import { ComponentProvider } from "@pulumi/pulumi/provider/experimental";
import { HerokuRelease } from "../../../../src/release/heroku/herokuRelease";

// Multi-language hosting infers the package schema from HerokuRelease's TypeScript types (offline, no
// Pulumi CLI): every argument and output must be expressible, or the component is unusable from other languages.
test("HerokuRelease's schema is inferable: required inputs, string maps for config, string outputs", async () => {
    const provider = new ComponentProvider({ components: [HerokuRelease], name: "lisp-deploy", dirname: process.cwd(), version: "0.1.0" });
    const schema = JSON.parse(await provider.getSchema());
    const r = schema.resources["lisp-deploy:index:HerokuRelease"];
    expect(r.isComponent).toBe(true);
    expect([...r.requiredInputs].sort()).toEqual(["apiKey", "app", "image"]);
    expect(Object.keys(r.inputProperties).sort()).toEqual(
        ["apiKey", "apiUrl", "app", "config", "createApp", "executablePath", "healthCheck", "image", "processType", "region", "registryHost", "releaseCommand", "secretConfig"].sort(),
    );
    expect(r.inputProperties.releaseCommand).toMatchObject({ type: "array", items: { type: "string" } });
    // The health check is an object type of the package: path, url, timeoutSeconds.
    const check = schema.types[r.inputProperties.healthCheck.$ref.replace("#/types/", "")];
    expect(Object.keys(check.properties).sort()).toEqual(["path", "timeoutSeconds", "url"]);
    expect(check.required).toEqual(["path"]);
    for (const k of ["config", "secretConfig"]) {
        expect(r.inputProperties[k]).toMatchObject({ type: "object", additionalProperties: { type: "string" } });
    }
    expect(r.inputProperties.createApp.type).toBe("boolean");
    for (const k of ["imageId", "releasedImage", "manifestDigest", "url", "releaseId"]) expect(r.properties[k].type).toBe("string");
    expect(r.properties.releaseVersion.type).toBe("number");
});
