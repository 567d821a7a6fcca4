import { execFileSync } from "child_process";
import * as path from "path";

// Once per integration run, before any test file: compile the package to bin/ and link it as
// node_modules/lisp-deploy, because programs run by the real Pulumi CLI `require("lisp-deploy")` as an
// infra repository would (support/pulumi-cli.ts), and the policy pack is the compiled src/policy.
export default function globalSetup(): void {
    const root = path.resolve(__dirname, "../..");
    execFileSync("npm", ["run", "--silent", "build"], { cwd: root, stdio: "inherit" });
    execFileSync("node", [path.join(root, "scripts", "link-package.js")], { stdio: "inherit" });
}
