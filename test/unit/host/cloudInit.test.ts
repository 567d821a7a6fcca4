import * as YAML from "yaml";
import { ValidationError } from "../../../src/errors";
import { BASE_PACKAGES, JOURNALD_DROP_IN_PATH, renderUserData } from "../../../src/host/cloudInit";

describe("renderUserData", () => {
    test("the default host: app user without login, runtime libraries, persistent journald, nothing else", () => {
        expect(renderUserData()).toBe(
            [
                "#cloud-config",
                "users:",
                "  - default",
                "  - name: lisp-app",
                "    gecos: lisp-deploy application user",
                "    system: true",
                "    shell: /usr/sbin/nologin",
                "    lock_passwd: true",
                "    no_create_home: true",
                "package_update: true",
                "package_upgrade: true",
                "packages:",
                "  - ca-certificates",
                "  - curl",
                "  - zlib1g",
                "write_files:",
                "  - path: /etc/systemd/journald.conf.d/50-lisp-deploy.conf",
                "    owner: root:root",
                '    permissions: "0644"',
                "    content: |",
                "      # Written by lisp-deploy: keep the app's logs across reboots.",
                "      [Journal]",
                "      Storage=persistent",
                "runcmd:",
                "  - [ systemctl, restart, systemd-journald ]",
                "",
            ].join("\n"),
        );
    });

    test("Docker and a reverse proxy add their packages and enable their services, in sorted order", () => {
        const parsed = YAML.parse(renderUserData({ docker: true, reverseProxy: "nginx", extraPackages: ["libssl3"] }));
        expect(parsed.packages).toEqual(["ca-certificates", "curl", "docker.io", "libssl3", "nginx", "zlib1g"]);
        expect(parsed.runcmd).toEqual([
            ["systemctl", "restart", "systemd-journald"],
            ["systemctl", "enable", "--now", "docker"],
            ["systemctl", "enable", "--now", "nginx"],
        ]);
        const caddy = YAML.parse(renderUserData({ reverseProxy: "caddy" }));
        expect(caddy.packages).toContain("caddy");
        expect(caddy.packages).not.toContain("docker.io");
    });

    test("the output is the same bytes for the same options, whatever order extras are given in", () => {
        const a = renderUserData({ extraPackages: ["libssl3", "libsqlite3-0", "curl"], docker: true });
        const b = renderUserData({ docker: true, extraPackages: ["curl", "libsqlite3-0", "libssl3"] });
        expect(a).toBe(b);
        expect(YAML.parse(a).packages.filter((p: string) => p === "curl")).toHaveLength(1);
    });

    test("every base package and the journald drop-in are always there", () => {
        const parsed = YAML.parse(renderUserData({ appUser: "blog", upgradePackages: false }));
        for (const p of BASE_PACKAGES) expect(parsed.packages).toContain(p);
        expect(parsed.write_files[0].path).toBe(JOURNALD_DROP_IN_PATH);
        expect(parsed.write_files[0].content).toMatch(/^Storage=persistent$/m);
        expect(parsed.users[1]).toMatchObject({ name: "blog", system: true, shell: "/usr/sbin/nologin" });
        expect(parsed.package_upgrade).toBe(false);
    });

    test("strings YAML 1.1 would read as booleans or octal are quoted, since cloud-init reads YAML 1.1", () => {
        const rendered = renderUserData({ appUser: "on", extraPackages: ["yes"] });
        expect(rendered).toContain('  - name: "on"\n');
        expect(rendered).toContain('  - "yes"\n');
        expect(rendered).toContain('permissions: "0644"');
        expect(rendered).not.toContain("%YAML");
        expect(YAML.parse(rendered, { version: "1.1" }).users[1].name).toBe("on");
    });

    test.each([
        [{ appUser: "Blog" }, /^args\.appUser: "Blog" is not a valid user name/],
        [{ appUser: "root" }, /^args\.appUser: "root" is an existing system account/],
        [{ reverseProxy: "apache" as any }, /^args\.reverseProxy: must be "caddy" or "nginx"/],
        [{ extraPackages: ["ok", "curl; rm -rf /"] }, /^args\.extraPackages\[1\]: "curl; rm -rf \/" is not a Debian package name/],
    ])("bad options are refused with the field named: %j", (options, message) => {
        expect(() => renderUserData(options)).toThrow(ValidationError);
        expect(() => renderUserData(options)).toThrow(message);
    });
});
