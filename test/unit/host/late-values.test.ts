import * as pulumi from "@pulumi/pulumi";
import { ValidationError } from "../../../src/errors";
import { renderFirewall } from "../../../src/host/firewall";
import { renderOnceKnown } from "../../../src/host/validate";
import { checkLater, checkPort } from "../../../src/validate";

// Stand-in for the Pulumi engine: outputs are resolved by the SDK under mocks, no deployment runs.
pulumi.runtime.setMocks({ newResource: (a) => ({ id: `${a.name}-id`, state: a.inputs }), call: () => ({}) }, "hosts-test", "dev", false);

/** The error an Output fails with (every promise it carries is observed, so none goes unhandled). */
function failureOf(output: pulumi.Output<unknown>): Promise<Error | "resolved"> {
    const o = output as any;
    for (const p of [o.isKnown, o.isSecret, o.allResources?.()]) if (p instanceof Promise) p.catch(() => undefined);
    return new Promise((resolve) => (output as any).promise().then(() => resolve("resolved"), (e: Error) => resolve(e)));
}

describe("values only known after preview are checked when they resolve, with the same messages", () => {
    test("checkLater: a plain value is checked at once, an Output when it resolves", async () => {
        expect(() => checkLater(70000, (p) => checkPort("args.port", p))).toThrow(/^args\.port: must be a whole number from 1 to 65535; got 70000\./);
        const late = await failureOf(checkLater(pulumi.output(70000), (p) => checkPort("args.port", p)));
        expect(late).toBeInstanceOf(ValidationError);
        expect((late as Error).message).toBe("args.port: must be a whole number from 1 to 65535; got 70000. Give the TCP port as a number, e.g. 8080.");
        expect(await failureOf(checkLater(pulumi.output(8080), (p) => checkPort("args.port", p)))).toBe("resolved");
    });

    test("renderOnceKnown: the firewall renders at construction from plain values, later from Outputs, failing alike", async () => {
        const render = (v: { sshCidrs: string[] }) => renderFirewall({ publicPorts: [80], outboundTcpPorts: [443], sshCidrs: v.sshCidrs });
        expect(() => renderOnceKnown({ sshCidrs: ["0.0.0.0/0"] }, render)).toThrow(/^args\.sshCidrs\[0\]: "0\.0\.0\.0\/0" opens SSH to the whole Internet/);
        const late = await failureOf(renderOnceKnown({ sshCidrs: pulumi.output(["0.0.0.0/0"]) }, render));
        expect((late as Error).message).toMatch(/^args\.sshCidrs\[0\]: "0\.0\.0\.0\/0" opens SSH to the whole Internet/);
        const ok = renderOnceKnown({ sshCidrs: pulumi.output(["192.0.2.0/24"]) }, render);
        expect(await new Promise((r) => ok.apply(r))).toEqual(render({ sshCidrs: ["192.0.2.0/24"] }));
    });
});
