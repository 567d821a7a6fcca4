import { spawnSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import * as YAML from "yaml";
import { renderUserData, UserDataOptions } from "../../src/host/cloudInit";
import { CLOUD_INIT_WAIT_SCRIPT, existingServerCheckScript } from "../../src/host/readiness";
import { requireCommand, requireDocker } from "../../support/engines";

// Real engines: Debian's cloud-init validates the rendered user data, shellcheck reads the readiness
// scripts, and a real cloud-init (NoCloud datasource) provisions a systemd container from it. Only
// EC2 itself is stood in for: the container is the instance, the seed directory its user data.

function run(cmd: string, args: string[], input?: string): { status: number; stdout: string; stderr: string } {
    const r = spawnSync(cmd, args, { input, encoding: "utf8", maxBuffer: 64 * 1024 * 1024 });
    if (r.error) throw r.error;
    return { status: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
}

const work = fs.mkdtempSync(path.join(os.tmpdir(), "hosts-cloud-init-"));
afterAll(() => fs.rmSync(work, { recursive: true, force: true }));

function schemaCheck(userData: string, name: string) {
    const file = path.join(work, `${name}.yaml`);
    fs.writeFileSync(file, userData);
    return run("cloud-init", ["schema", "--config-file", file]);
}

describe("rendered user data against Debian's cloud-init schema (cloud-init schema --config-file)", () => {
    beforeAll(() => requireCommand("cloud-init", "cloud-init"));

    const variants: [string, UserDataOptions][] = [
        ["default", {}],
        ["docker-caddy", { docker: true, reverseProxy: "caddy" }],
        ["nginx-extras", { reverseProxy: "nginx", extraPackages: ["libssl3", "libsqlite3-0"], upgradePackages: false, appUser: "blog" }],
        ["docker-only", { docker: true, upgradePackages: false }],
        // YAML 1.1 words: cloud-init would read an unquoted `on` as true and reject it as a user name.
        ["yaml-1.1-words", { appUser: "on", extraPackages: ["yes", "no"] }],
    ];
    test.each(variants)("variant %s is valid cloud-config", (name, options) => {
        const r = schemaCheck(renderUserData(options), name);
        expect(r.stderr).not.toMatch(/error/i);
        expect(r.stdout).toContain("Valid cloud-config");
        expect(r.status).toBe(0);
    });

    // The validator is only worth running if it can fail: corrupt a rendered document the ways a
    // renderer bug would, and check each is caught and named.
    const corruptions: [string, (doc: any) => void, RegExp][] = [
        ["packages as a map", (d) => (d.packages = Object.fromEntries(d.packages.map((p: string) => [p, true]))), /packages: .* is not of type 'array'/],
        ["package_upgrade as a string", (d) => (d.package_upgrade = "always"), /package_upgrade: 'always' is not of type 'boolean'/],
        ["a file without a path", (d) => delete d.write_files[0].path, /write_files\.0: 'path' is a required property/],
        ["the app user with a string lock_passwd", (d) => (d.users[1].lock_passwd = "locked"), /users\.1: .* is not valid/],
    ];
    test.each(corruptions)("the validator catches %s", (name, corrupt, message) => {
        const doc = YAML.parse(renderUserData());
        corrupt(doc);
        const r = schemaCheck("#cloud-config\n" + YAML.stringify(doc), name.replace(/\W+/g, "-"));
        expect(r.status).not.toBe(0);
        expect(r.stderr).toMatch(message);
    });

    test("the validator catches user data without the #cloud-config header", () => {
        const r = schemaCheck(renderUserData().replace(/^#cloud-config\n/, ""), "no-header");
        expect(r.status).not.toBe(0);
        expect(r.stderr).toMatch(/needs to begin with "#cloud-config"/);
    });
});

describe("readiness scripts pass shellcheck (they run under sh on the host)", () => {
    beforeAll(() => requireCommand("shellcheck", "shellcheck"));
    test.each([
        ["cloud-init wait", CLOUD_INIT_WAIT_SCRIPT],
        ["existing server check (amd64)", existingServerCheckScript("amd64")],
        ["existing server check (arm64)", existingServerCheckScript("arm64")],
    ])("%s", (_name, script) => {
        // The check's command carries its script file (itself checked by test/unit/shell-scripts.test.ts) as
        // one single-quoted word on purpose: SC2016 ("expressions don't expand in single quotes") is that.
        const r = run("shellcheck", ["--shell=sh", "--severity=style", "--exclude=SC2016", "-"], script);
        expect(r.stdout + r.stderr).toBe("");
        expect(r.status).toBe(0);
    });
});

describe("a real cloud-init provisions a systemd host from the rendered user data (stand-in for EC2: a container)", () => {
    const image = "hosts-cloud-init-host:test";
    const containers: string[] = [];

    beforeAll(() => {
        requireDocker();
        // What a Debian 12 AMI has that debian:bookworm-slim lacks: systemd as init, cloud-init, sudo,
        // a generated en_US.UTF-8 locale and ssh-keygen. The drop-in keeps the container from probing
        // the EC2 metadata address (only NoCloud), from touching the network config and the hostname.
        const dir = path.join(work, "image");
        fs.mkdirSync(dir);
        fs.writeFileSync(
            path.join(dir, "Dockerfile"),
            [
                "FROM debian:bookworm-slim",
                "RUN apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends systemd systemd-sysv cloud-init sudo locales openssh-client && rm -rf /var/lib/apt/lists/*",
                "RUN sed -i 's/^# *en_US.UTF-8 UTF-8/en_US.UTF-8 UTF-8/' /etc/locale.gen && locale-gen",
                "RUN printf 'datasource_list: [ NoCloud, None ]\\nnetwork: {config: disabled}\\npreserve_hostname: true\\napt: {preserve_sources_list: true}\\n' > /etc/cloud/cloud.cfg.d/99-hosts-test.cfg",
                "",
            ].join("\n"),
        );
        const b = run("docker", ["build", "--network", "host", "-t", image, dir]);
        if (b.status !== 0) throw new Error(`building ${image} failed:\n${b.stdout}\n${b.stderr}`);
    });

    afterAll(() => {
        for (const c of containers) run("docker", ["rm", "-f", c]);
        run("docker", ["rmi", "-f", image]);
    });

    /** Boots a container with `userData` as its NoCloud seed and runs the readiness script in it. */
    function boot(name: string, userData: string) {
        const seed = path.join(work, `seed-${name}`);
        fs.mkdirSync(seed);
        fs.writeFileSync(path.join(seed, "user-data"), userData);
        fs.writeFileSync(path.join(seed, "meta-data"), `instance-id: ${name}\nlocal-hostname: ${name}\n`);
        const container = `hosts-cloud-init-${name}`;
        run("docker", ["rm", "-f", container]);
        containers.push(container);
        const r = run("docker", [
            "run", "-d", "--name", container, "--network", "host",
            "--cap-add", "SYS_ADMIN", "--security-opt", "seccomp=unconfined", "--security-opt", "apparmor=unconfined",
            "--tmpfs", "/run", "--tmpfs", "/run/lock", "-v", "/sys/fs/cgroup:/sys/fs/cgroup:rw",
            "-v", `${seed}:/var/lib/cloud/seed/nocloud:ro`, image, "/sbin/init",
        ]);
        if (r.status !== 0) throw new Error(`docker run failed: ${r.stderr}`);
        const exec = (...cmd: string[]) => run("docker", ["exec", container, ...cmd]);
        // Exactly what Ec2Host's readiness command runs over SSH, under Debian's sh.
        const ready = exec("sh", "-c", CLOUD_INIT_WAIT_SCRIPT);
        return { ready, exec };
    }

    test("the default host: ready only when cloud-init is done; app user, runtime packages and persistent journald in place", () => {
        // No reverse proxy or Docker here: on the host network they would bind port 80, and Docker
        // cannot start inside this container. Their packages are covered by the schema tests above.
        const { ready, exec } = boot("ok", renderUserData({ upgradePackages: false }));
        expect(ready.stderr).toBe("");
        expect(ready.status).toBe(0);
        expect(ready.stdout).toMatch(/^status: done$/m);
        expect(exec("test", "-e", "/var/lib/cloud/instance/boot-finished").status).toBe(0);

        const [user, , uid, , , , shell] = exec("getent", "passwd", "lisp-app").stdout.trim().split(":");
        expect(user).toBe("lisp-app");
        expect(shell).toBe("/usr/sbin/nologin");
        expect(Number(uid)).toBeLessThan(1000); // a system user
        expect(exec("passwd", "-S", "lisp-app").stdout.split(" ")[1]).toBe("L"); // password locked

        const pkgs = exec("dpkg-query", "-W", "-f", "${Package} ${db:Status-Status}\n", "ca-certificates", "curl", "zlib1g");
        expect(pkgs.stdout.trim().split("\n").sort()).toEqual(["ca-certificates installed", "curl installed", "zlib1g installed"]);

        const journald = exec("systemd-analyze", "cat-config", "systemd/journald.conf");
        expect(journald.stdout).toMatch(/^Storage=persistent$/m);
        expect(exec("sh", "-c", 'test -d "/var/log/journal/$(cat /etc/machine-id)"').status).toBe(0);
        expect(exec("systemctl", "is-active", "systemd-journald").stdout.trim()).toBe("active");
    });

    test("SshHost's server check on a real machine: right arch passes, wrong arch and sudo-less users fail with the reason", () => {
        const { ready, exec } = boot("check", renderUserData({ upgradePackages: false }));
        expect(ready.status).toBe(0);
        const machine = exec("uname", "-m").stdout.trim();
        const arch = machine === "aarch64" ? "arm64" : "amd64";
        const other = arch === "amd64" ? "arm64" : "amd64";

        const asRoot = exec("sh", "-c", existingServerCheckScript(arch));
        expect(asRoot.status).toBe(0);
        expect(asRoot.stdout.trim()).toBe(machine);

        const wrongArch = exec("sh", "-c", existingServerCheckScript(other));
        expect(wrongArch.status).toBe(1);
        expect(wrongArch.stderr).toContain(`the server is ${machine}, but arch was declared ${other}`);

        expect(exec("useradd", "--create-home", "deployer").status).toBe(0);
        const noSudo = run("docker", ["exec", "-u", "deployer", "hosts-cloud-init-check", "sh", "-c", existingServerCheckScript(arch)]);
        expect(noSudo.status).toBe(1);
        expect(noSudo.stderr).toContain("the SSH user cannot run sudo without a password");

        expect(exec("sh", "-c", "echo 'deployer ALL=(ALL) NOPASSWD:ALL' > /etc/sudoers.d/deployer && chmod 0440 /etc/sudoers.d/deployer").status).toBe(0);
        const withSudo = run("docker", ["exec", "-u", "deployer", "hosts-cloud-init-check", "sh", "-c", existingServerCheckScript(arch)]);
        expect(withSudo.stderr).toBe("");
        expect(withSudo.status).toBe(0);
    });

    test("a host whose provisioning fails is never reported ready: the readiness script fails and says why", () => {
        // A well-formed name that Debian does not have: schema-valid, fails only on the host.
        const { ready } = boot("fails", renderUserData({ upgradePackages: false, extraPackages: ["lisp-deploy-no-such-package"] }));
        expect(ready.status).toBe(1);
        expect(ready.stderr).toMatch(/^status: error$/m);
        expect(ready.stderr).toMatch(/package-update-upgrade-install/);
    });
});
