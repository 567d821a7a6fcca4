import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import * as pulumi from "@pulumi/pulumi";
import { LispImage } from "../../src/image/lispImage";
import { requireDocker } from "../../support/engines";
import { docker, dockerBuildAct, RecordedBuild, removeDockerObjects, stepsByStage, waitFor200 } from "../harness/imageBuild";
import { RecordingMocks, settle, valueOf } from "../harness/mocks";

// Real Docker engine, real SBCL, real Debian packages; only the Pulumi engine is stood in for (RecordingMocks
// whose act runs `docker build` with exactly the inputs LispImage gave the docker.Image resource).
const MINUTES = 60 * 1000;
const PORT_FIRST = 18110;
const PORT_SECOND = 18111;
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
async function buildHello(): Promise<{ build: RecordedBuild; image: LispImage; imageRef: string }> {
    const builds: RecordedBuild[] = [];
    pulumi.runtime.setMocks(new RecordingMocks(dockerBuildAct(builds)), "image-it", "test", false);
    const image = new LispImage("image-it-hello", {
        appDir,
        // No runtimePackages: Hunchentoot opens libssl through cl+ssl, and the build finds its package itself.
        dependencySource: { kind: "debian" },
        compression: true,
        imageName: "lisp-deploy-image-it/hello",
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

    test("the runtime image runs as non-root and holds no SBCL, no Lisp sources, no core", () => {
        const ref = first.imageRef;
        expect(docker("run", "--rm", "--network", "host", "--entrypoint", "id", ref).trim()).toBe("uid=10001(app) gid=10001(app) groups=10001(app)");
        const probe = docker(
            "run", "--rm", "--network", "host", "--entrypoint", "sh", ref, "-c",
            "command -v sbcl || true; ls -d /usr/lib/sbcl /usr/local/lib/sbcl /usr/share/common-lisp /opt/app /opt/lisp-deploy 2>/dev/null || true;" +
                " find / -xdev \\( -name '*.lisp' -o -name '*.asd' -o -name '*.core' -o -name '*.fasl' -o -path /app/hello \\) -print 2>/dev/null | head",
        );
        // The executable is the only hit: proves the probe ran and found nothing else.
        expect(probe.trim()).toBe("/app/hello");
        expect(docker("run", "--rm", "--network", "host", "--entrypoint", "ls", ref, "/app").trim()).toBe("hello");
        // The shared library found in the build stage was installed from its Debian package.
        expect(docker("run", "--rm", "--network", "host", "--entrypoint", "dpkg-query", ref, "-W", "-f=${Status}", "libssl3").trim())
            .toBe("install ok installed");
        expect(docker("image", "inspect", "--format", "{{.Config.User}} {{json .Config.Entrypoint}} {{json .Config.ExposedPorts}}", ref).trim())
            .toBe('10001:10001 ["/app/hello"] {"8080/tcp":{}}');
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

        runDetached("image-it-hello-2", second.imageRef, PORT_SECOND);
        expect((await waitFor200(PORT_SECOND, "/")).body).toBe(`${greeting}, deployed by lisp-deploy. (hello 1.0.0)\n`);
    }, 15 * MINUTES);
});
