import * as pulumi from "@pulumi/pulumi";
import * as rpc from "@pulumi/pulumi/runtime/rpc";

/** One resource the program registered, with the exact inputs Pulumi would send to its provider. */
export interface RecordedResource {
    type: string;
    name: string;
    inputs: Record<string, any>;
}

/**
 * A recording stand-in for the Pulumi engine: every resource's inputs are recorded (so tests can assert
 * exact child inputs) and answered with `outputsFor`, or by echoing the inputs. `act` lets an
 * integration test perform the real action (a docker build, a command over SSH) before answering.
 */
export class RecordingMocks implements pulumi.runtime.Mocks {
    readonly resources: RecordedResource[] = [];

    constructor(
        private readonly act?: (args: pulumi.runtime.MockResourceArgs) => Promise<Record<string, any> | undefined>,
        private readonly callResult: (args: pulumi.runtime.MockCallArgs) => Record<string, any> = () => ({}),
    ) {}

    async newResource(args: pulumi.runtime.MockResourceArgs): Promise<{ id: string; state: Record<string, any> }> {
        this.resources.push({ type: args.type, name: args.name, inputs: args.inputs });
        const extra = this.act ? await this.act(args) : undefined;
        return { id: `${args.name}-id`, state: { ...args.inputs, ...(extra ?? {}) } };
    }

    call(args: pulumi.runtime.MockCallArgs): Record<string, any> {
        return this.callResult(args);
    }

    /** The resources of one type, in registration order. */
    ofType(type: string): RecordedResource[] {
        return this.resources.filter((r) => r.type === type);
    }
}

/** Resolves an Output in a test (mocks resolve everything during preview=false runs). */
export function valueOf<T>(output: pulumi.Output<T> | pulumi.Input<T>): Promise<T> {
    return new Promise((resolve) => pulumi.output(output).apply((v) => resolve(v as T)));
}

/** True when an Output is marked secret (what a test of secret handling needs to assert). */
export async function isSecretOutput(output: pulumi.Output<unknown>): Promise<boolean> {
    return pulumi.isSecret(output);
}

/** Waits until all resources registered so far have been answered by the mocks. */
export function settle(): Promise<void> {
    return new Promise((resolve) => setTimeout(resolve, 50));
}

/**
 * A recorded value with the mock monitor's secret wrappers (`{<sig>: <secret sig>, value}`) replaced by
 * their values: what a provider or a policy is handed. Assets and archives are kept as they are.
 */
export function unwrapSecrets(value: any): any {
    if (Array.isArray(value)) return value.map(unwrapSecrets);
    if (value && typeof value === "object" && !pulumi.asset.Asset.isInstance(value) && !pulumi.asset.Archive.isInstance(value)) {
        if (value[rpc.specialSigKey] === rpc.specialSecretSig) return unwrapSecrets(value.value);
        const out: Record<string, any> = {};
        for (const k of Object.keys(value)) out[k] = unwrapSecrets(value[k]);
        return out;
    }
    return value;
}
