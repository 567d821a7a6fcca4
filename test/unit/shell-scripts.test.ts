import { execFileSync, spawnSync } from "child_process";
import * as path from "path";
import { requireCommand } from "../../support/engines";

// Every shell script in the repository, wherever it runs (on a host, on the machine running Pulumi, in an
// image build, in CI or a benchmark), is a file shellcheck reads: one test, one list, so a new script
// cannot slip past it. Files that are sourced, not run, carry a `# shellcheck shell=` directive.

const ROOT = path.join(__dirname, "..", "..");

function trackedShellScripts(): string[] {
    requireCommand("git", "git");
    const files = execFileSync("git", ["ls-files", "--cached", "--others", "--exclude-standard", "*.sh", ".ci/run"], { cwd: ROOT, encoding: "utf8" }).split("\n").filter(Boolean);
    if (files.length === 0) throw new Error("git ls-files found no shell scripts: is this a git checkout?");
    return files;
}

const scripts = trackedShellScripts();

test("the list holds the scripts of every part: hosts, releases, image builds, benchmarks, machine set-up, CI", () => {
    for (const expected of ["src/host/scripts/cloud-init-wait.sh", "src/release/systemd/scripts/activate.sh", "src/release/local/scripts/health-check.sh", "lisp/build/runtime-rootfs.sh", "bench/lib.sh", "scripts/setup-machine.sh", ".ci/run"]) {
        expect(scripts).toContain(expected);
    }
});

test.each(scripts)("%s passes shellcheck", (file) => {
    requireCommand("shellcheck", "shellcheck");
    const r = spawnSync("shellcheck", ["--severity=style", "--external-sources", file], { cwd: ROOT, encoding: "utf8" });
    expect(r.stdout + r.stderr).toBe("");
    expect(r.status).toBe(0);
});

test("shellcheck at this severity fails a careless script (the check can fail)", () => {
    requireCommand("shellcheck", "shellcheck");
    const r = spawnSync("shellcheck", ["--severity=style", "-s", "sh", "-"], { input: "#!/bin/sh\nrm -rf $DIR/*\n", encoding: "utf8" });
    expect(r.status).not.toBe(0);
    expect(r.stdout).toContain("SC2086");
});
