import { execFileSync, spawnSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { ValidationError } from "../../../../src/errors";
import { quoteArgumentForSystemd, quoteEnvironmentForSystemd, renderUnit, UnitSpec } from "../../../../src/release/systemd/unit";
import { requireCommand } from "../../../../support/engines";

const base: UnitSpec = {
    app: "hello",
    executable: "hello",
    type: "notify",
    port: 8080,
    environment: { LOG_LEVEL: "info", GREETING: "hi there" },
    environmentFile: true,
};

describe("renderUnit", () => {
    test("renders the hardened unit: notify, Restart=always, dynamic user, protections, sorted environment", () => {
        const unit = renderUnit(base);
        const lines = unit.split("\n");
        for (const line of [
            "Type=notify",
            "NotifyAccess=main",
            "ExecStart=/opt/hello/current/hello",
            "Restart=always",
            "DynamicUser=yes",
            "ProtectSystem=strict",
            "ProtectHome=yes",
            "PrivateTmp=yes",
            "NoNewPrivileges=yes",
            "CapabilityBoundingSet=",
            "RestrictAddressFamilies=AF_INET AF_INET6 AF_UNIX",
            "SystemCallFilter=@system-service",
            "EnvironmentFile=/opt/hello/secret.env",
            "StartLimitIntervalSec=0",
        ]) {
            expect(lines).toContain(line);
        }
        expect(lines.filter((l) => l.startsWith("Environment="))).toEqual([
            'Environment="GREETING=hi there"',
            "Environment=HOME=/var/cache/hello",
            "Environment=LOG_LEVEL=info",
            "Environment=PORT=8080",
        ]);
        // SBCL writes and then executes code: W^X would kill it (proved in the e2e test).
        expect(unit).not.toContain("MemoryDenyWriteExecute");
    });

    test("Type=exec for executables that never notify has no NotifyAccess", () => {
        const unit = renderUnit({ ...base, type: "exec" });
        expect(unit).toContain("Type=exec\n");
        expect(unit).not.toContain("NotifyAccess");
    });

    test("a named user replaces DynamicUser; no secret file means no EnvironmentFile", () => {
        const unit = renderUnit({ ...base, user: "hello", environmentFile: false });
        expect(unit).toContain("User=hello\nGroup=hello\n");
        expect(unit).not.toContain("DynamicUser");
        expect(unit).not.toContain("EnvironmentFile");
    });

    test("is deterministic: the same spec with keys in another order renders the same text", () => {
        const reordered = { ...base, environment: { GREETING: "hi there", LOG_LEVEL: "info" } };
        expect(renderUnit(reordered)).toBe(renderUnit(base));
    });

    test("quotes values systemd would otherwise split or expand", () => {
        expect(quoteEnvironmentForSystemd("A=plain")).toBe("A=plain");
        // "$" means nothing in Environment= (systemd.exec(5)); in ExecStart= it expands, so "$$" is a literal "$".
        expect(quoteEnvironmentForSystemd('A=say "hi" $HOME 100%')).toBe('"A=say \\"hi\\" $HOME 100%%"');
        expect(quoteArgumentForSystemd('say "hi" $HOME 100%')).toBe('"say \\"hi\\" $$HOME 100%%"');
    });

    test.each([
        [{ app: "Hello World" }, "app"],
        [{ app: "../etc" }, "app"],
        [{ executable: "bin/hello" }, "executable"],
        [{ port: 0 }, "port"],
        [{ port: 70000 }, "port"],
        [{ environment: { "BAD-NAME": "x" } }, "environment.BAD-NAME"],
        [{ environment: { OK: "two\nlines" } }, "environment.OK"],
        [{ user: "Root Admin" }, "user"],
    ])("rejects %j naming the field %s", (patch, field) => {
        let error: unknown;
        try {
            renderUnit({ ...base, ...(patch as Partial<UnitSpec>) });
        } catch (e) {
            error = e;
        }
        expect(error).toBeInstanceOf(ValidationError);
        expect((error as ValidationError).field).toBe(field);
    });
});

describe("renderUnit output checked by systemd's own tools (systemd-analyze, offline)", () => {
    let root: string;
    beforeAll(() => {
        requireCommand("systemd-analyze", "systemd");
        // verify needs the ExecStart binary and the standard targets: a temp root with both.
        root = fs.mkdtempSync(path.join(os.tmpdir(), "systemd-unit-"));
        fs.mkdirSync(path.join(root, "usr/lib/systemd"), { recursive: true });
        fs.cpSync("/lib/systemd/system", path.join(root, "usr/lib/systemd/system"), { recursive: true });
        fs.mkdirSync(path.join(root, "opt/hello/current"), { recursive: true });
        fs.writeFileSync(path.join(root, "opt/hello/current/hello"), "#!/bin/sh\nexit 0\n", { mode: 0o755 });
        fs.writeFileSync(path.join(root, "opt/hello/secret.env"), "", { mode: 0o600 });
        fs.mkdirSync(path.join(root, "etc/systemd/system"), { recursive: true });
    });
    afterAll(() => fs.rmSync(root, { recursive: true, force: true }));

    const install = (unit: string) => fs.writeFileSync(path.join(root, "etc/systemd/system/hello.service"), unit);
    const verify = () => spawnSync("systemd-analyze", ["verify", "--man=no", `--root=${root}`, "/etc/systemd/system/hello.service"], { encoding: "utf8" });

    test.each(["notify", "exec"] as const)("systemd-analyze verify is clean for Type=%s", (type) => {
        install(renderUnit({ ...base, type }));
        const r = verify();
        expect({ status: r.status, stderr: r.stderr }).toEqual({ status: 0, stderr: "" });
    });

    test("verify would catch a broken unit (the check can fail)", () => {
        install(renderUnit(base).replace("Restart=always", "Restart=always\nRestartBogus=1"));
        expect(verify().stderr).toContain("RestartBogus");
    });

    test.each([{}, { user: "hello" }, { type: "exec" as const }])("systemd-analyze security scores 2.5 or lower (%j)", (patch) => {
        install(renderUnit({ ...base, ...patch }));
        const out = execFileSync("systemd-analyze", ["security", "--offline=true", `--root=${root}`, "hello.service"], { encoding: "utf8" });
        const score = Number(/Overall exposure level for hello\.service: ([0-9.]+)/.exec(out)?.[1]);
        expect(score).toBeGreaterThan(0);
        expect(score).toBeLessThanOrEqual(2.5);
    });
});
