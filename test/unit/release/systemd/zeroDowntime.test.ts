import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import * as pulumi from "@pulumi/pulumi";
import { RecordingMocks, valueOf } from "../../../harness/mocks";
import { ValidationError } from "../../../../src/errors";
import { nginxCertificatePaths, proxyConfigFile, renderCaddyMainConfig, renderProxyConfig, ReverseProxy } from "../../../../src/release/systemd/proxy";
import { planZeroDowntime, proxyUrl, renderSlotProxyConfigs, renderSlotUnits, slotActivateParams } from "../../../../src/release/systemd/zeroDowntime";
import { releaseIdOfFile, SystemdRelease, SystemdReleaseArgs } from "../../../../src/release/systemd/systemdRelease";
import { renderUnit } from "../../../../src/release/systemd/unit";

// Unit layer: pure renderers, and the component with the Pulumi engine stood in for by RecordingMocks.

const base = { app: "hello", proxy: ReverseProxy.Caddy, upstreamPort: 8081, publicPort: 80, adminPort: 2019 } as const;

describe("renderProxyConfig", () => {
    test("Caddy without a domain: this app's site only, plain HTTP on the public port, one upstream", () => {
        expect(renderProxyConfig({ ...base, publicPort: 8000, listenAddress: "127.0.0.1" })).toBe(
            [
                "# Rendered by lisp-deploy (SystemdRelease zero-downtime mode) for hello; the next release overwrites it.",
                "http://:8000 {",
                "\tbind 127.0.0.1",
                "\treverse_proxy 127.0.0.1:8081",
                "}",
                "",
            ].join("\n"),
        );
    });

    test("Caddy with a domain: the site is the domain, so Caddy's automatic HTTPS applies", () => {
        const text = renderProxyConfig({ ...base, domain: "app.example.com" });
        expect(text).toContain("\napp.example.com {\n\treverse_proxy 127.0.0.1:8081\n}\n");
        expect(text).not.toContain("http://");
    });

    test("nginx without a domain: an upstream with keep-alive and one server on the public port", () => {
        const text = renderProxyConfig({ ...base, proxy: ReverseProxy.Nginx, app: "my-app", publicPort: 8000 });
        expect(text).toContain("upstream lisp_deploy_my_app {\n\tserver 127.0.0.1:8081;\n\tkeepalive 16;\n}");
        expect(text).toContain("server {\n\tlisten 8000;\n\tlocation / {\n\t\tproxy_pass http://lisp_deploy_my_app;");
        expect(text).toContain('proxy_set_header Connection "";');
        expect(text).not.toContain("ssl");
    });

    test("nginx with a domain: 80 redirects, 443 serves with the certificate from the documented path", () => {
        const text = renderProxyConfig({ ...base, proxy: ReverseProxy.Nginx, domain: "app.example.com", listenAddress: "0.0.0.0" });
        const cert = nginxCertificatePaths("app.example.com");
        expect(cert).toEqual({ certificate: "/etc/ssl/lisp-deploy/app.example.com/fullchain.pem", key: "/etc/ssl/lisp-deploy/app.example.com/privkey.pem" });
        expect(text).toContain("\tlisten 0.0.0.0:80;\n\tserver_name app.example.com;\n\treturn 301 https://$host$request_uri;");
        expect(text).toContain("\tlisten 0.0.0.0:443 ssl;");
        expect(text).toContain(`\tssl_certificate ${cert.certificate};\n\tssl_certificate_key ${cert.key};`);
    });

    test("the same spec always renders the same text", () => {
        expect(renderProxyConfig({ ...base })).toBe(renderProxyConfig({ ...base }));
    });

    test.each([
        [{ domain: "App.Example.com" }, "domain"],
        [{ domain: "localhost" }, "domain"],
        [{ domain: "a.com; evil" }, "domain"],
        [{ listenAddress: "0.0.0.0 ssl" }, "listenAddress"],
        [{ upstreamPort: 0 }, "upstreamPort"],
    ])("rejects %j naming %s", (patch, field) => {
        expect(() => renderProxyConfig({ ...base, ...patch })).toThrow(ValidationError);
        expect(() => renderProxyConfig({ ...base, ...patch })).toThrow(new RegExp(`^${field}`));
    });

    test("config files: one per app for both proxies, so two apps on one host never overwrite each other", () => {
        expect(proxyConfigFile(ReverseProxy.Caddy, "hello")).toBe("/etc/caddy/lisp-deploy/hello.caddy");
        expect(proxyConfigFile(ReverseProxy.Caddy, "blog")).toBe("/etc/caddy/lisp-deploy/blog.caddy");
        expect(proxyConfigFile(ReverseProxy.Nginx, "hello")).toBe("/etc/nginx/conf.d/lisp-deploy-hello.conf");
    });

    test("Caddy's main Caddyfile holds only the global options and the import of every app's site", () => {
        expect(renderCaddyMainConfig(2019)).toBe(
            [
                "# Rendered by lisp-deploy (SystemdRelease zero-downtime mode); each app's site is its own file below.",
                "{",
                "\tadmin 127.0.0.1:2019",
                "}",
                "",
                "import /etc/caddy/lisp-deploy/*.caddy",
                "",
            ].join("\n"),
        );
        expect(() => renderCaddyMainConfig(0)).toThrow(/^adminPort/);
    });
});

describe("slots", () => {
    const spec = { app: "hello", executable: "hello", type: "notify", port: 8080, environment: { LOG_LEVEL: "info" }, environmentFile: true } as const;

    test("plain mode's unit is unchanged by the slot option", () => {
        const plain = renderUnit(spec);
        expect(plain).toContain("ExecStart=/opt/hello/current/hello");
        expect(plain).toContain("CacheDirectory=hello\n");
        expect(plain).not.toContain("BIND_ADDRESS");
    });

    test("each slot unit runs its own link, port, cache and secret file, bound to loopback", () => {
        const plan = planZeroDowntime("z", "hello", 8080, {});
        const units = renderSlotUnits(spec, plan);
        expect(units.blue).toContain("ExecStart=/opt/hello/slots/blue/hello");
        expect(units.blue).toContain("WorkingDirectory=/opt/hello/slots/blue");
        expect(units.blue).toContain("Environment=PORT=8080");
        expect(units.blue).toContain("Environment=BIND_ADDRESS=127.0.0.1");
        expect(units.blue).toContain("Environment=HOME=/var/cache/hello-blue");
        expect(units.blue).toContain("CacheDirectory=hello-blue");
        expect(units.blue).toContain("EnvironmentFile=/opt/hello/secret-blue.env");
        expect(units.blue).toContain("Description=hello slot blue (Common Lisp web app)");
        expect(units.green).toBe(
            units.blue.replace(/blue/g, "green").replace("PORT=8080", "PORT=8081"),
        );
    });

    test("planZeroDowntime fills defaults", () => {
        expect(planZeroDowntime("args.zeroDowntime", "hello", 8080, {})).toEqual({
            proxy: "caddy",
            domain: undefined,
            publicPort: 80,
            listenAddress: undefined,
            drainSeconds: 30,
            adminPort: 2019,
            slotPorts: { blue: 8080, green: 8081 },
            proxyConfigFile: "/etc/caddy/lisp-deploy/hello.caddy",
        });
    });

    test.each([
        [{ proxy: "haproxy" }, 8080, "args.zeroDowntime.proxy"],
        [{ publicPort: 8081 }, 8080, "args.zeroDowntime.publicPort"],
        [{ domain: "app.example.com", publicPort: 8000 }, 8080, "args.zeroDowntime.publicPort"],
        [{ domain: "x" }, 8080, "args.zeroDowntime.domain"],
        [{ adminPort: 80 }, 8080, "args.zeroDowntime.adminPort"],
        [{ drainSeconds: -1 }, 8080, "args.zeroDowntime.drainSeconds"],
        [{ listenAddress: "everywhere" }, 8080, "args.zeroDowntime.listenAddress"],
        [{}, 65535, "args.port"],
    ])("rejects %j (port %d) naming %s", (zdt, port, field) => {
        const call = () => planZeroDowntime("args.zeroDowntime", "hello", port, zdt as any);
        expect(call).toThrow(ValidationError);
        expect(call).toThrow(new RegExp(`^${field.replace(/\./g, "\\.")}`));
    });

    test("the proxy configs differ only in the upstream slot", () => {
        const plan = planZeroDowntime("z", "hello", 8080, { proxy: "nginx", publicPort: 8000 });
        const c = renderSlotProxyConfigs("hello", plan);
        expect(c.blue).toContain("server 127.0.0.1:8080;");
        expect(c.green).toBe(c.blue.replace("127.0.0.1:8080", "127.0.0.1:8081"));
    });

    test("the public URL is the proxy's", () => {
        expect(proxyUrl("10.0.0.5", planZeroDowntime("z", "hello", 8080, {}))).toBe("http://10.0.0.5/");
        expect(proxyUrl("10.0.0.5", planZeroDowntime("z", "hello", 8080, { publicPort: 8000 }))).toBe("http://10.0.0.5:8000/");
        expect(proxyUrl("10.0.0.5", planZeroDowntime("z", "hello", 8080, { domain: "app.example.com" }))).toBe("https://app.example.com/");
    });

    test("activate-slot parameters are plain, complete strings", () => {
        const plan = planZeroDowntime("z", "hello", 8080, { publicPort: 8000 });
        const params = slotActivateParams(
            { app: "hello", executable: "hello", releaseId: "abc", keepReleases: 5, units: { blue: "B", green: "G" }, secretEnvironment: false, healthPath: "/healthz", expectedStatus: 200, timeoutSeconds: 30, startTimeoutSeconds: 20, journalLines: 30 },
            plan,
        );
        expect(Object.keys(params).sort()).toEqual([
            "APP", "DRAIN_SECONDS", "EXECUTABLE", "HEALTH_PATH", "HEALTH_STATUS", "HEALTH_TIMEOUT", "JOURNAL_LINES", "KEEP_RELEASES",
            "PORT_BLUE", "PORT_GREEN", "PROXY", "PROXY_ADMIN_PORT", "PROXY_CONFIG_BLUE", "PROXY_CONFIG_FILE", "PROXY_CONFIG_GREEN",
            "PROXY_MAIN_CONFIG", "RELEASE_ID", "SECRET_ENV", "SERVICE_USER", "START_TIMEOUT", "UNIT_BLUE", "UNIT_GREEN",
        ]);
        expect(params.START_TIMEOUT).toBe("20");
        expect(params.PORT_GREEN).toBe("8081");
        expect(params.PROXY_CONFIG_GREEN).toContain("reverse_proxy 127.0.0.1:8081");
        expect(params.PROXY_CONFIG_FILE).toBe("/etc/caddy/lisp-deploy/hello.caddy");
        expect(params.PROXY_MAIN_CONFIG).toBe(renderCaddyMainConfig(2019));
        expect(params.PROXY_ADMIN_PORT).toBe("2019");
        expect(params.DRAIN_SECONDS).toBe("30");
        // nginx has no main config of lisp-deploy's and no admin API: its old workers are what the drain waits for.
        const nginx = slotActivateParams({ app: "hello", executable: "hello", releaseId: "abc", keepReleases: 5, units: { blue: "B", green: "G" }, secretEnvironment: false, healthPath: "/healthz", expectedStatus: 200, timeoutSeconds: 30, startTimeoutSeconds: 20, journalLines: 30 }, planZeroDowntime("z", "hello", 8080, { proxy: "nginx", publicPort: 8000 }));
        expect(nginx.PROXY_MAIN_CONFIG).toBeUndefined();
        expect(nginx.PROXY_ADMIN_PORT).toBeUndefined();
    });
});

describe("SystemdRelease with zeroDowntime (Pulumi engine stood in for by RecordingMocks)", () => {
    let mocks: RecordingMocks;
    let dir: string;
    let exe: string;
    const connection = { host: "10.0.0.5", port: 22, user: "admin", privateKey: "-----BEGIN OPENSSH PRIVATE KEY-----\nkey-material\n" };
    beforeAll(() => {
        dir = fs.mkdtempSync(path.join(os.tmpdir(), "release-zdt-"));
        exe = path.join(dir, "hello");
        fs.writeFileSync(exe, "content to hash", { mode: 0o755 });
    });
    afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));
    beforeEach(async () => {
        mocks = new RecordingMocks();
        await pulumi.runtime.setMocks(mocks, "lisp-deploy", "unit", false);
    });
    const args = (patch: Partial<SystemdReleaseArgs> = {}): SystemdReleaseArgs => ({
        connection,
        app: "hello",
        executable: { file: exe },
        port: 8080,
        secretEnvironment: { API_TOKEN: pulumi.secret("tok-123") },
        healthCheck: { path: "/healthz" },
        zeroDowntime: { proxy: ReverseProxy.Nginx, publicPort: 8000 },
        ...patch,
    });
    const settle = () => new Promise((r) => setTimeout(r, 100));

    test("the activation runs activate-slot.sh with both units and both proxy configs; delete runs remove-slots.sh", async () => {
        const r = new SystemdRelease("web", args());
        expect(await valueOf(r.url)).toBe("http://10.0.0.5:8000/");
        await settle();
        const activate = mocks.ofType("command:remote:Command").find((x) => x.name === "web-activate")!;
        const create: string = activate.inputs.create;
        expect(create).toContain("activate-slot.sh");
        expect(create).toContain(`RELEASE_ID='${releaseIdOfFile(exe)}'`);
        expect(create).toContain("ExecStart=/opt/hello/slots/blue/hello");
        expect(create).toContain("ExecStart=/opt/hello/slots/green/hello");
        expect(create).toContain("server 127.0.0.1:8081;");
        expect(create).toContain("PROXY='nginx'");
        expect(create).toContain("SECRET_ENV='1'");
        expect(create).not.toContain("tok-123");
        expect(activate.inputs.delete).toContain("remove-slots.sh");
        expect(activate.inputs.delete).toContain("PROXY_CONFIG_FILE='/etc/nginx/conf.d/lisp-deploy-hello.conf'");
        expect(await valueOf(r.unit)).toContain("ExecStart=/opt/hello/slots/blue/hello");
        expect(mocks.resources[0].inputs).toEqual({});
    });

    test("two constructions with the same inputs give identical command text", async () => {
        new SystemdRelease("a", args());
        new SystemdRelease("b", args());
        await settle();
        const [a, b] = ["a-activate", "b-activate"].map((n) => mocks.resources.find((x) => x.name === n)!.inputs.create);
        expect(a).toBe(b);
    });

    test("bad zero-downtime input fails at construction, naming the field", () => {
        expect(() => new SystemdRelease("bad", args({ zeroDowntime: { publicPort: 8080 } }))).toThrow(/^args\.zeroDowntime\.publicPort/);
        expect(() => new SystemdRelease("bad2", args({ swankPort: 8000 }))).toThrow(/^args\.swankPort: .*the proxy's public port/);
    });
});
