#!/usr/bin/env node
// Makes `require("lisp-deploy")` in this repository's own Pulumi programs (examples/*, run from the root
// Pulumi.yaml or by the tests) resolve to this checkout, the way `npm install lisp-deploy` would in an
// infra repository: node_modules/lisp-deploy -> the repository root (package.json `main`: bin/index.js).
// One copy of @pulumi/pulumi is then shared by the program and the package, as it must be.
"use strict";
const fs = require("fs");
const path = require("path");

const root = path.resolve(__dirname, "..");
const link = path.join(root, "node_modules", "lisp-deploy");
let current;
try {
    current = fs.readlinkSync(link);
} catch {
    current = undefined;
}
if (current !== "..") {
    fs.rmSync(link, { recursive: true, force: true });
    fs.symlinkSync("..", link, "dir");
}
