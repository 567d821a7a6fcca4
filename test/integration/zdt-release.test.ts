import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { ActingEngine } from "../harness/acting-engine";
import { requireCommand, requireDocker } from "../../support/engines";
import { valueOf } from "../harness/mocks";
import { SystemdHost } from "../../support/systemd-host";
import { ReverseProxy } from "../../src/release/proxy";
import { SystemdRelease } from "../../src/release/systemdRelease";
import { buildHello, writeBrokenExecutable } from "../../support/hello-builds";
import { startLoad } from "../../support/load";

// Ports 18700-18749 (this suite's range); sshd on 2240.
const CADDY = { slot: 18700, public: 18702, admin: 18703 };
const NGINX = { slot: 18710, public: 18712 };
const SSH_PORT = 2240;

let host: SystemdHost;
let work: string;
let v1: string;
let v2: string;
let broken: string;
const engine = new ActingEngine("lisp-deploy", "zdt-e2e");

function release(app: string, executable: string, proxy: ReverseProxy) {
    const ports = proxy === ReverseProxy.Caddy ? CADDY : NGINX;
    return new SystemdRelease(app, {
        connection: host.connection,
        app,
        executable: { file: executable },
        executableName: "hello",
        port: ports.slot,
        healthCheck: { path: "/healthz", timeoutSeconds: 15 },
        zeroDowntime: { proxy, publicPort: ports.public, listenAddress: "127.0.0.1", adminPort: CADDY.admin, drainSeconds: 1 },
    });
}

/**
 * engine.up, failing with a clear message when the stand-in engine deleted a resource of this program:
 * ActingEngine decides "the program registered everything" after 400 ms without activity, which a heavily
 * loaded machine can exceed between two steps; it then runs the release's delete (remove-slots.sh) mid-update.
 */
async function up<T>(program: () => T): Promise<T> {
    const before = engine.actions.length;
    try {
        return await engine.up(program);
    } finally {
        const deletes = engine.actions.slice(before).filter((a) => a.op === "delete").map((a) => a.name);
        if (deletes.length > 0) {
            // eslint-disable-next-line no-unsafe-finally
            throw new Error(`ActingEngine deleted ${deletes.join(", ")} during an update (its idle heuristic ended the program early on a loaded machine); the results below it are not about the release.`);
        }
    }
}

const activeSlot = async (app: string) => (await host.exec("cat", `/opt/${app}/active-slot`)).stdout.trim();

beforeAll(async () => {
    requireDocker();
    for (const [cmd, pkg] of [["ssh", "openssh-client"], ["scp", "openssh-client"], ["ssh-keygen", "openssh-client"], ["sbcl", "sbcl"]]) {
        requireCommand(cmd, pkg);
    }
    work = fs.mkdtempSync(path.join(os.tmpdir(), "zdt-e2e-"));
    [v1, v2, host] = await Promise.all([
        buildHello(path.join(work, "v1"), "Hello from the blue release."),
        buildHello(path.join(work, "v2"), "Hello from the green release."),
        SystemdHost.start("zdt-e2e-host", SSH_PORT),
    ]);
    broken = writeBrokenExecutable(path.join(work, "broken"));
}, 10 * 60 * 1000);

afterAll(async () => {
    await host?.stop();
    if (work) fs.rmSync(work, { recursive: true, force: true });
});

describe.each([ReverseProxy.Caddy, ReverseProxy.Nginx])(
    "SystemdRelease zero-downtime mode behind %s from Debian, on a real systemd host over real SSH (Pulumi engine stood in for by ActingEngine)",
    (proxy) => {
        const app = `zdt-${proxy}`;
        const publicUrl = `http://127.0.0.1:${(proxy === ReverseProxy.Caddy ? CADDY : NGINX).public}/`;

        test("the first release installs the proxy, starts the blue slot on loopback and serves through the proxy", async () => {
            const r = await up(() => release(app, v1, proxy));
            expect(await valueOf(r.url)).toBe(publicUrl);
            expect(await activeSlot(app)).toBe("blue");
            const page = await host.curl((proxy === ReverseProxy.Caddy ? CADDY : NGINX).public, "/");
            expect(page.status).toBe("200");
            expect(page.body).toContain("Hello from the blue release.");
            // The slot itself listens on 127.0.0.1 only (BIND_ADDRESS), the proxy is the entry.
            const env = await host.exec("systemctl", "show", "-p", "Environment", "--value", `${app}-blue.service`);
            expect(env.stdout).toContain("BIND_ADDRESS=127.0.0.1");
        });

        test("a release under a request loop drops zero requests and serves the new text afterwards", async () => {
            const load = startLoad(publicUrl, { maxRequests: 2000, tailMs: 2000, hardLimitMs: 180_000 });
            await up(() => release(app, v2, proxy));
            const seen = await load.stop();
            expect(seen.failures).toEqual([]);
            expect(seen.total).toBeGreaterThan(20);
            // The loop ran across the switch: it saw the old text, then the new one, and nothing else.
            expect(seen.bodies.map((b) => b.includes("blue") ? "old" : b.includes("green") ? "new" : b)).toEqual(["old", "new"]);
            expect(seen.lastBody).toContain("Hello from the green release.");
            expect(await activeSlot(app)).toBe("green");
            // The old slot drained and stopped.
            expect((await host.exec("systemctl", "is-active", `${app}-blue.service`)).stdout.trim()).not.toBe("active");
        });

        test("a release failing its health check keeps the old slot serving with zero failed requests and fails with the new slot's journal", async () => {
            const configBefore = (await host.exec("sh", "-c", `cat /etc/caddy/Caddyfile /etc/nginx/conf.d/lisp-deploy-${app}.conf 2>/dev/null`)).stdout;
            const load = startLoad(publicUrl, { maxRequests: 2000, tailMs: 2000, hardLimitMs: 180_000 });
            let error: Error | undefined;
            await up(() => release(app, broken, proxy)).catch((e) => (error = e));
            const seen = await load.stop();
            expect(error).toBeDefined();
            expect(error!.message).toContain("failed its health check on slot blue");
            expect(error!.message).toContain(`journal lines of ${app}-blue.service`);
            expect(error!.message).toContain("boom: this release cannot start");
            expect(seen.failures).toEqual([]);
            expect(seen.total).toBeGreaterThan(20);
            expect(seen.bodies).toHaveLength(1);
            expect(seen.lastBody).toContain("Hello from the green release.");
            expect(await activeSlot(app)).toBe("green");
            const configAfter = (await host.exec("sh", "-c", `cat /etc/caddy/Caddyfile /etc/nginx/conf.d/lisp-deploy-${app}.conf 2>/dev/null`)).stdout;
            expect(configAfter).toBe(configBefore);
        });

        test("going back to the serving release is a no-op on the host; destroying removes the slots and the proxy config", async () => {
            const pid = (await host.exec("systemctl", "show", "-p", "MainPID", "--value", `${app}-green.service`)).stdout.trim();
            await up(() => release(app, v2, proxy));
            expect((await host.exec("systemctl", "show", "-p", "MainPID", "--value", `${app}-green.service`)).stdout.trim()).toBe(pid);
            // activate-slot.sh run again by hand with the same parameters: idempotent, nothing restarts or switches.
            const again = await host.ssh(engine.inputsOf("command:remote:Command", `${app}-activate`)!.create);
            expect(again.stderr).toContain("is already serving from slot green");
            expect(again.code).toBe(0);
            expect((await host.exec("systemctl", "show", "-p", "MainPID", "--value", `${app}-green.service`)).stdout.trim()).toBe(pid);
            expect(await activeSlot(app)).toBe("green");
            await engine.destroy();
            expect((await host.exec("test", "-e", `/opt/${app}`)).code).not.toBe(0);
            expect((await host.exec("test", "-e", `/etc/systemd/system/${app}-green.service`)).code).not.toBe(0);
            expect((await host.curl((proxy === ReverseProxy.Caddy ? CADDY : NGINX).public, "/")).status).not.toBe("200");
        });
    },
);
