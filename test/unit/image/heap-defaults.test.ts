import { dynamicSpaceSizeOf, imageArgsOf, systemdReleaseSettings } from "../../../src/app/plan";
import { TargetKind, WebAppArgs } from "../../../src/app/args";
import { planImage } from "../../../src/image/plan";
import { planReleaseSettings } from "../../../src/release/systemd/systemdRelease";
import { renderUnit } from "../../../src/release/systemd/unit";
import * as path from "path";

// Issue 13: the SBCL heap limit (dynamicSpaceSizeMb) a WebApp bakes into the executable, and the unit's
// MemoryMax that follows it. Pure planning functions, no engine.

const HELLO = path.resolve(__dirname, "../../../examples/hello");
const ec2 = (instanceType: unknown, app: Partial<WebAppArgs["app"]> = {}): WebAppArgs =>
    ({ app: { path: HELLO, ...app }, target: { kind: TargetKind.Ec2, ec2: { instanceType, publicKey: "k", privateKey: "p" } } }) as WebAppArgs;

describe("WebApp's heap limit", () => {
    test("ec2: a share of the instance type's memory; the user's value wins; unknown or late types get SBCL's default", () => {
        expect(dynamicSpaceSizeOf(ec2("t3.small"))).toBe(1344);
        expect(dynamicSpaceSizeOf(ec2("t3.small", { dynamicSpaceSizeMb: 512 }))).toBe(512);
        expect(dynamicSpaceSizeOf(ec2("z9.weird"))).toBeUndefined();
        // An Output is not known while the program runs: no guess.
        expect(dynamicSpaceSizeOf(ec2({ apply: () => undefined }))).toBeUndefined();
        // Other targets: only what the user says.
        expect(dynamicSpaceSizeOf({ app: { path: HELLO } })).toBeUndefined();
        expect(dynamicSpaceSizeOf({ app: { path: HELLO, dynamicSpaceSizeMb: 2048 }, target: { kind: TargetKind.Heroku } } as WebAppArgs)).toBe(2048);
    });

    test("ec2 t3.small: the build saves a 1344 MB heap into the executable and the unit's MemoryMax is 1680M", () => {
        const args = ec2("t3.small");
        const image = imageArgsOf(args, TargetKind.Ec2, 8080);
        expect(image.dynamicSpaceSizeMb).toBe(1344);
        const dockerfile = planImage({ appDir: HELLO, dependencySource: { kind: "debian" }, dynamicSpaceSizeMb: image.dynamicSpaceSizeMb }).dockerfile;
        expect(dockerfile).toContain("sbcl --core /opt/lisp-deploy/dependencies.core --dynamic-space-size 1344MB ");

        const release = planReleaseSettings(systemdReleaseSettings("hello", args, 8080, "/", true, undefined), "hello");
        const unit = renderUnit({ ...release.unitSpec, environment: {} });
        expect(unit).toContain("\nMemoryMax=1680M\nMemorySwapMax=0\n");
    });

    test("a release planned without a heap limit has no MemoryMax", () => {
        const args: WebAppArgs = { app: { path: HELLO }, target: { kind: TargetKind.Ssh } } as WebAppArgs;
        const release = planReleaseSettings(systemdReleaseSettings("hello", args, 8080, "/", true, undefined), "hello");
        expect(renderUnit({ ...release.unitSpec, environment: {} })).not.toContain("MemoryMax");
    });
});
