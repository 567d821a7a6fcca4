import { spawnSync } from "child_process";
import * as fs from "fs";
import * as path from "path";
import { releaseScript, renderEnvironmentFile, scriptsDirectory, shellQuote } from "../../src/release/scripts";
import { requireCommand } from "../harness/engines";

const scripts = fs.readdirSync(scriptsDirectory()).filter((f) => f.endsWith(".sh"));

test("the release scripts are the files the components read (SystemdRelease plain and zero-downtime; DeltaRelease)", () => {
    expect(scripts.sort()).toEqual(["activate-slot.sh", "activate.sh", "delta-build.sh", "prepare.sh", "remove-slots.sh", "remove.sh"]);
});

test.each(scripts)("%s passes shellcheck", (file) => {
    requireCommand("shellcheck", "shellcheck");
    const r = spawnSync("shellcheck", ["--severity=style", path.join(scriptsDirectory(), file)], { encoding: "utf8" });
    expect(r.stdout + r.stderr).toBe("");
    expect(r.status).toBe(0);
});

test("the functions the scripts share (lib/common.sh) pass shellcheck", () => {
    requireCommand("shellcheck", "shellcheck");
    const r = spawnSync("shellcheck", ["--severity=style", "--shell=bash", path.join(scriptsDirectory(), "lib", "common.sh")], { encoding: "utf8" });
    expect(r.stdout + r.stderr).toBe("");
    expect(r.status).toBe(0);
});

test("shellcheck is strict enough to fail a careless script (the check can fail)", () => {
    const r = spawnSync("shellcheck", ["-s", "bash", "-"], { input: "#!/usr/bin/env bash\nrm -rf $DIR/*\n", encoding: "utf8" });
    expect(r.status).not.toBe(0);
});

describe("releaseScript", () => {
    test("carries the shared functions and the script file verbatim, with sorted, quoted parameters", () => {
        const text = releaseScript("remove", { APP: "hello" });
        const file = (name: string) => fs.readFileSync(path.join(scriptsDirectory(), name), "utf8");
        expect(text).toContain(`  APP='hello' \\\n  bash -c ${shellQuote(`${file("lib/common.sh")}\n${file("remove.sh")}`)} remove.sh`);
        expect(releaseScript("prepare", { RELEASE_ID: "abc", APP: "x" })).toBe(releaseScript("prepare", { APP: "x", RELEASE_ID: "abc" }));
    });

    test("a parameter with quotes and newlines reaches the script unchanged (real bash)", () => {
        const value = "line one\nit's \"quoted\" $HOME `cmd`";
        const text = releaseScript("prepare", { VALUE: value }, 'printf "%s" "$VALUE"');
        // Run as the command text the host gets; `sudo` is skipped because tests run as root.
        const r = spawnSync("bash", ["-c", text], { encoding: "utf8" });
        expect(r.stdout).toBe(value);
    });

    test("rejects parameter names that are not environment variable names", () => {
        expect(() => releaseScript("prepare", { "bad name": "x" }, "true")).toThrow(/not an environment variable name/);
    });
});

test("renderEnvironmentFile writes sorted KEY=\"value\" lines with systemd's escapes", () => {
    expect(renderEnvironmentFile({ B: 'a"b', A: "x$y\\z" })).toBe('A="x\\$y\\\\z"\nB="a\\"b"\n');
});
