import { lispDeployPolicies } from "../../src/policy/policies";
import { RecordedResource, unwrapSecrets } from "./mocks";

/**
 * Every violation lisp-deploy's policy pack reports on recorded resources, as `<policy>: <message>`,
 * handing each policy what the policy engine would: the resource's inputs with secrets unwrapped.
 * Stands in for the policy engine only; the policies themselves run as they are.
 */
export async function policyViolations(resources: Pick<RecordedResource, "type" | "name" | "inputs">[]): Promise<string[]> {
    const reported: string[] = [];
    for (const r of resources) {
        for (const policy of lispDeployPolicies) {
            const fns = Array.isArray(policy.validateResource) ? policy.validateResource : [policy.validateResource!];
            const args: any = { type: r.type, props: unwrapSecrets(r.inputs), urn: `urn:pulumi:dev::p::${r.type}::${r.name}`, name: r.name, opts: {}, getConfig: () => ({}) };
            for (const fn of fns) await fn(args, (message: string) => reported.push(`${policy.name}: ${message}`));
        }
    }
    return reported;
}
