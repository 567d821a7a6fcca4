// Deploys examples/hello to Heroku's container runtime: the image (built for linux/amd64) is pushed to
// registry.heroku.com and released through the Platform API; the environment becomes config vars.
import * as path from "path";
import * as pulumi from "@pulumi/pulumi";
import { DependencySourceKind, WebApp } from "lisp-deploy";

const config = new pulumi.Config();
const appDir = path.relative(process.cwd(), path.join(__dirname, "..", "hello")) || ".";

const app = new WebApp("hello", {
    app: {
        path: appDir,
        dependencySource: { kind: (config.get("dependencySource") ?? "quicklisp") as DependencySourceKind },
        compression: true,
        buildNetwork: config.get("buildNetwork"),
        environment: config.get("greeting") ? { GREETING: config.require("greeting") } : undefined,
        healthPath: "/healthz",
    },
    target: {
        kind: "heroku",
        heroku: {
            app: config.require("herokuApp"),
            apiKey: config.requireSecret("herokuApiKey"),
            createApp: config.getBoolean("createApp") ?? false,
            region: config.get("region"),
            apiUrl: config.get("herokuApiUrl"),
            registryHost: config.get("herokuRegistryHost"),
        },
    },
});

export const url = app.url;
export const imageRef = app.imageRef;
export const logsCommand = app.logsCommand;
