import { execFileSync, spawnSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import * as pulumi from "@pulumi/pulumi";
import { LispImage, RuntimeBase } from "../../src/image/lispImage";
import { requireDocker } from "../../support/engines";
import { docker, dockerBuildAct, RecordedBuild, removeDockerObjects, stepsByStage, waitFor200 } from "../harness/imageBuild";
import { RecordingMocks, settle, valueOf } from "../harness/mocks";

// Real Docker engine, real SBCL, real Debian packages; only the Pulumi engine is stood in for (RecordingMocks
// whose act runs `docker build` with exactly the inputs LispImage gave the docker.Image resource).
const MINUTES = 60 * 1000;
const PORT_FIRST = 18110;
const PORT_SECOND = 18111;
const PORT_DEBIAN = 18112;
const containers: string[] = [];
const images: string[] = [];
let appDir = "";

beforeAll(() => {
    requireDocker();
    appDir = fs.mkdtempSync(path.join(os.tmpdir(), "image-it-hello-"));
    fs.cpSync(path.resolve(__dirname, "../../examples/hello"), appDir, { recursive: true });
});

afterAll(() => {
    removeDockerObjects(containers, images);
    fs.rmSync(appDir, { recursive: true, force: true });
});

/** Runs the program "build examples/hello with LispImage" under the acting mocks; returns the build and outputs. */
async function buildHello(runtimeBase?: RuntimeBase): Promise<{ build: RecordedBuild; image: LispImage; imageRef: string }> {
    const builds: RecordedBuild[] = [];
    pulumi.runtime.setMocks(new RecordingMocks(dockerBuildAct(builds)), "image-it", "test", false);
    const image = new LispImage("image-it-hello", {
        appDir,
        // No runtimePackages: Hunchentoot opens libssl through cl+ssl, and the build finds its package itself.
        dependencySource: { kind: "debian" },
        compression: true,
        runtimeBase,
        imageName: runtimeBase === undefined ? "lisp-deploy-image-it/hello" : `lisp-deploy-image-it/hello-${runtimeBase}`,
        buildNetwork: "host",
    });
    const imageRef = await valueOf(image.imageRef);
    await settle();
    expect(builds).toHaveLength(1);
    images.push(builds[0].imageName);
    return { build: builds[0], image, imageRef };
}

function runDetached(name: string, image: string, port: number): void {
    containers.push(name);
    docker("rm", "-f", name);
    docker("run", "-d", "--name", name, "--network", "host", "-e", `PORT=${port}`, image);
}

describe("LispImage builds examples/hello with the real Docker engine (Pulumi engine mocked)", () => {
    let first: Awaited<ReturnType<typeof buildHello>>;

    test("the runtime image serves the app on $PORT", async () => {
        first = await buildHello();
        expect(first.imageRef).toMatch(/^sha256:[0-9a-f]{64}$/);
        runDetached("image-it-hello-1", first.imageRef, PORT_FIRST);
        const res = await waitFor200(PORT_FIRST, "/");
        expect(res.body).toBe("Hello from Common Lisp, deployed by lisp-deploy. (hello 1.0.0)\n");
        expect((await waitFor200(PORT_FIRST, "/healthz")).body).toBe("ok 1.0.0\n");
    }, 25 * MINUTES);

    test("the default (slim) runtime image holds the executable, its libraries, CA certificates and passwd: no shell, no apt, no SBCL", () => {
        const ref = first.imageRef;
        const name = "image-it-hello-export";
        containers.push(name);
        docker("rm", "-f", name);
        docker("create", "--name", name, ref);
        // The image's whole file system, read from outside: it has no shell or ls to ask.
        const files = execFileSync("sh", ["-c", `docker export ${name} | tar -t`], { encoding: "utf8", maxBuffer: 64 * 1024 * 1024 })
            .split("\n")
            .filter((f) => f !== "" && !f.endsWith("/"))
            // Docker adds these to every container it creates.
            .filter((f) => ![".dockerenv", "etc/hostname", "etc/hosts", "etc/resolv.conf", "etc/mtab", "dev/console"].includes(f));
        expect(files).toContain("app/hello");
        expect(files).toContain("etc/passwd");
        expect(files).toContain("etc/ssl/certs/ca-certificates.crt");
        expect(files).toContain("usr/lib/x86_64-linux-gnu/libssl.so.3");
        // No shell, no package manager, no coreutils, no SBCL, no Lisp sources, cores or fasls.
        for (const f of files) {
            expect(f).not.toMatch(/(^|\/)(s?bin)\//);
            expect(f).not.toMatch(/(^|\/)(sh|bash|dash|apt|apt-get|dpkg|sbcl)$/);
            expect(f).not.toMatch(/\.(lisp|asd|core|fasl)$/);
            expect(f).not.toMatch(/^var\/lib\/(dpkg|apt)\//);
        }
        // Everything else is a shared library, the loader's configuration, or the user and certificate files.
        const other = files.filter((f) => !/^(usr\/)?lib(64)?(\/|$)|^usr\/lib\/ssl\//.test(f) && f !== "app/hello");
        expect(other.sort()).toEqual([
            "etc/group",
            "etc/ld.so.cache",
            "etc/ld.so.conf",
            "etc/ld.so.conf.d/libc.conf",
            "etc/ld.so.conf.d/x86_64-linux-gnu.conf",
            "etc/nsswitch.conf",
            "etc/passwd",
            "etc/ssl/certs/ca-certificates.crt",
        ]);
        const passwd = execFileSync("sh", ["-c", `docker cp ${name}:/etc/passwd - | tar -xO`], { encoding: "utf8" });
        expect(passwd).toContain("app:x:10001:10001:app:/app:/sbin/nologin\n");
        // Asking for a shell fails: there is none.
        const sh = spawnSync("docker", ["run", "--rm", "--network", "host", "--entrypoint", "/bin/sh", ref, "-c", "true"], { encoding: "utf8" });
        expect(sh.status).not.toBe(0);
        expect(sh.stderr).toMatch(/no such file or directory/i);
        expect(docker("image", "inspect", "--format", "{{.Config.User}} {{json .Config.Entrypoint}} {{json .Config.ExposedPorts}}", ref).trim())
            .toBe('10001:10001 ["/app/hello"] {"8080/tcp":{}}');
        // The running app's process, seen from the host, is uid 10001, not root.
        const top = docker("top", "image-it-hello-1", "-o", "pid,uid").trim().split("\n").slice(1);
        expect(top.map((l) => l.trim().split(/\s+/)[1])).toEqual(["10001"]);
    }, 5 * MINUTES);

    test("after an app source and .asd edit only the build and runtime stages rebuild, and the new text is served", async () => {
        const appFile = path.join(appDir, "src/app.lisp");
        // Unique per run, so the build stage cannot come from the cache of an earlier run of this test.
        const greeting = `Hello again (${path.basename(appDir)}) from Common Lisp`;
        fs.writeFileSync(appFile, fs.readFileSync(appFile, "utf8").replace("Hello from Common Lisp", greeting));
        // An .asd edit that does not touch dependencies must not rebuild them either (unlike the Heroku example).
        const asdFile = path.join(appDir, "hello.asd");
        fs.writeFileSync(asdFile, fs.readFileSync(asdFile, "utf8").replace(':version "1.0.0"', ':version "1.0.1"'));
        const second = await buildHello();
        expect(await valueOf(second.image.contextHash)).not.toBe(await valueOf(first.image.contextHash));

        const stages = stepsByStage(second.build.output);
        expect([...stages.keys()]).toEqual(["basepackages", "quicklisp", "dependencies", "build", "runtime"]);
        for (const name of ["basepackages", "quicklisp", "dependencies"]) {
            const steps = stages.get(name)!;
            expect(steps.length).toBeGreaterThan(0);
            expect(steps.filter((s) => !s.cached)).toEqual([]);
        }
        const build = stages.get("build")!;
        expect(build.find((s) => s.instruction.startsWith("COPY app/"))?.cached).toBe(false);

        // The libraries' layer is the same files again, so it comes from the cache: a push ships only the executable.
        const runtime = stages.get("runtime")!;
        expect(runtime.find((s) => s.instruction.startsWith("COPY --from=build /opt/lisp-deploy/rootfs/"))?.cached).toBe(true);
        expect(runtime.find((s) => s.instruction.startsWith("COPY --from=build /opt/lisp-deploy/out/hello"))?.cached).toBe(false);

        runDetached("image-it-hello-2", second.imageRef, PORT_SECOND);
        expect((await waitFor200(PORT_SECOND, "/")).body).toBe(`${greeting}, deployed by lisp-deploy. (hello 1.0.0)\n`);
    }, 15 * MINUTES);

    test('runtimeBase "debian-slim": the Debian base with a shell and the libraries\' packages, same user and PORT', async () => {
        const debian = await buildHello("debian-slim");
        expect(debian.imageRef).not.toBe(first.imageRef);
        runDetached("image-it-hello-debian", debian.imageRef, PORT_DEBIAN);
        expect((await waitFor200(PORT_DEBIAN, "/healthz")).body).toBe("ok 1.0.0\n");
        const ref = debian.imageRef;
        expect(docker("run", "--rm", "--network", "host", "--entrypoint", "id", ref).trim()).toBe("uid=10001(app) gid=10001(app) groups=10001(app)");
        const probe = docker(
            "run", "--rm", "--network", "host", "--entrypoint", "sh", ref, "-c",
            "command -v sbcl || true; ls -d /usr/lib/sbcl /usr/local/lib/sbcl /usr/share/common-lisp /opt/app /opt/lisp-deploy 2>/dev/null || true;" +
                " find / -xdev \\( -name '*.lisp' -o -name '*.asd' -o -name '*.core' -o -name '*.fasl' -o -path /app/hello \\) -print 2>/dev/null | head",
        );
        // The executable is the only hit: proves the probe ran and found nothing else.
        expect(probe.trim()).toBe("/app/hello");
        // The shared library found in the build stage was installed from its Debian package.
        expect(docker("run", "--rm", "--network", "host", "--entrypoint", "dpkg-query", ref, "-W", "-f=${Status}", "libssl3").trim())
            .toBe("install ok installed");
        expect(docker("image", "inspect", "--format", "{{.Config.User}} {{json .Config.Entrypoint}} {{json .Config.ExposedPorts}}", ref).trim())
            .toBe('10001:10001 ["/app/hello"] {"8080/tcp":{}}');
    }, 15 * MINUTES);
});
