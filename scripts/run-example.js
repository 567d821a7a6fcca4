#!/usr/bin/env node
// `npm run example`: builds examples/hello into its runtime image with the same planner and context writer
// LispImage uses (compiled to bin/ by `npm run build` first), then serves it on http://127.0.0.1:8080 in
// the foreground. Ctrl-C stops and removes the container.
//
// Dependencies come from Debian's cl-* packages because Quicklisp's servers are out of reach on the
// machines this project runs on; the build's RUN steps and the container use the host network for the same reason.
"use strict";
const { spawn, spawnSync } = require("child_process");
const path = require("path");
const { planImage } = require("../bin/image/plan");
const { writeContext } = require("../bin/image/context");

const root = path.resolve(__dirname, "..");
process.chdir(root);
const port = process.env.PORT || "8080";
const contextDir = ".lisp-deploy/images/example";
const container = "lisp-deploy-example-hello";

const plan = planImage({
    appDir: "examples/hello",
    dependencySource: { kind: "debian" },
    // Hunchentoot loads cl+ssl, which opens libssl at start.
    compression: true,
    excludeFromApp: [contextDir],
});
writeContext(contextDir, plan.files);
const image = `lisp-deploy-example/${plan.app.systemName}:ctx-${plan.contextHash.slice(0, 12)}`;

console.log(`example: building ${image} (system ${plan.app.systemName}, dependencies: ${plan.dependencies.join(", ")})`);
const build = spawnSync(
    "docker",
    ["build", "--network", "host", "-f", `${contextDir}/Dockerfile`, "--target", "runtime", "-t", image, contextDir],
    { stdio: "inherit" },
);
if (build.status !== 0) {
    console.error(`example: docker build failed (exit ${build.status}); the Lisp error is printed above.`);
    process.exit(build.status || 1);
}

spawnSync("docker", ["rm", "-f", container], { stdio: "ignore" });
console.log(`example: serving on http://127.0.0.1:${port} (executable ${plan.executablePath}); Ctrl-C stops and removes the container`);
const run = spawn("docker", ["run", "--rm", "--name", container, "--network", "host", "-e", `PORT=${port}`, image], { stdio: "inherit" });

let stopping = false;
const stop = () => {
    if (stopping) return;
    stopping = true;
    console.log("\nexample: stopping");
    spawnSync("docker", ["rm", "-f", container], { stdio: "ignore" });
};
process.on("SIGINT", stop);
process.on("SIGTERM", stop);
run.on("exit", (code) => {
    stop();
    process.exit(code === null ? 1 : code === 137 || code === 130 ? 0 : code);
});
