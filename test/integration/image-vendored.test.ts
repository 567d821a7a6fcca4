import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import * as pulumi from "@pulumi/pulumi";
import { LispImage } from "../../src/image/lispImage";
import { requireDocker } from "../../support/engines";
import { docker, dockerBuildAct, RecordedBuild, removeDockerObjects, stepsByStage } from "../harness/imageBuild";
import { RecordingMocks, settle, valueOf } from "../harness/mocks";

// Real Docker engine and SBCL; only the Pulumi engine is stood in for. The fixture app takes its
// dependencies from a vendored directory and from a stand-in of the lisp-deploy runtime that LispImage
// bundles from the package (test/fixtures/image-lisp-deploy plays the package's lisp/ directory).
const MINUTES = 60 * 1000;
const FIXTURES = path.resolve(__dirname, "../fixtures");
const images: string[] = [];
let brokenDir = "";

beforeAll(() => {
    requireDocker();
    brokenDir = fs.mkdtempSync(path.join(os.tmpdir(), "image-it-broken-"));
    fs.cpSync(path.join(FIXTURES, "image-vendored-app"), brokenDir, { recursive: true });
    // A call with a missing closing paren: the build stage must fail with the reader error, not hang.
    fs.writeFileSync(path.join(brokenDir, "src/main.lisp"), "(in-package #:vendored-app)\n(defun main ()\n  (print (message))\n");
});

afterAll(() => {
    removeDockerObjects([], images);
    fs.rmSync(brokenDir, { recursive: true, force: true });
});

async function buildFixture(name: string, appDir: string): Promise<{ builds: RecordedBuild[]; result: Promise<string> }> {
    const builds: RecordedBuild[] = [];
    pulumi.runtime.setMocks(new RecordingMocks(dockerBuildAct(builds)), "image-it", "test", false);
    const image = new LispImage(name, {
        appDir,
        dependencySource: { kind: "vendored", dir: path.join(FIXTURES, "image-vendor") },
        lispDeploySystemDir: path.join(FIXTURES, "image-lisp-deploy"),
        imageName: `lisp-deploy-image-it/${name}`,
        buildNetwork: "host",
    });
    images.push(`lisp-deploy-image-it/${name}`);
    return { builds, result: valueOf(image.imageRef) };
}

describe("LispImage with vendored dependencies and the bundled lisp-deploy runtime (real Docker, Pulumi engine mocked)", () => {
    test("the executable runs with the vendored library and the bundled runtime loaded", async () => {
        const { builds, result } = await buildFixture("image-it-vendored", path.join(FIXTURES, "image-vendored-app"));
        const ref = await result;
        await settle();
        images.push(builds[0].imageName);
        const out = docker("run", "--rm", "--network", "host", ref);
        expect(out).toBe("Hello, vendored-app, from a vendored library.\nfixture lisp-deploy runtime (sb-posix loaded)\n");
        // The runtime came from the package's bundled copy (whether this build ran the stage or reused it).
        expect(stepsByStage(builds[0].output).get("dependencies")!.map((s) => s.instruction)).toContain("COPY lisp-deploy/runtime/ /opt/lisp-deploy/runtime/");
    }, 15 * MINUTES);

    test("a compile error in the app fails the build with the Lisp error printed, and the dependencies stage is reused", async () => {
        // Plan under a recording mock, then run the recorded build directly: a failing provider call would
        // leave the program's outputs unresolved, while here the failure itself is what we inspect.
        const mocks = new RecordingMocks();
        pulumi.runtime.setMocks(mocks, "image-it", "test", false);
        const image = new LispImage("image-it-broken", {
            appDir: brokenDir,
            dependencySource: { kind: "vendored", dir: path.join(FIXTURES, "image-vendor") },
            lispDeploySystemDir: path.join(FIXTURES, "image-lisp-deploy"),
            imageName: "lisp-deploy-image-it/image-it-broken",
            buildNetwork: "host",
        });
        await valueOf(image.imageRef);
        await settle();
        const [recorded] = mocks.ofType("docker:index/image:Image");
        const builds: RecordedBuild[] = [];
        await expect(
            dockerBuildAct(builds)({ type: recorded.type, name: recorded.name, inputs: recorded.inputs, provider: "", id: undefined } as pulumi.runtime.MockResourceArgs),
        ).rejects.toThrow(/failed \(exit 1\)/);
        const output = builds[0].output;
        expect(output).toContain("lisp-deploy: building the executable failed:");
        expect(output).toMatch(/end of file/i);
        expect(output).not.toMatch(/debugger invoked|Type HELP for debugger/);
        const stages = stepsByStage(output);
        expect(stages.get("dependencies")!.every((s) => s.cached)).toBe(true);
    }, 10 * MINUTES);
});
