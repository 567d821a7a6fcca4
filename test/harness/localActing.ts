import { spawn } from "child_process";
import * as pulumi from "@pulumi/pulumi";
import * as rpc from "@pulumi/pulumi/runtime/rpc";
import { BuildRecord, buildImage, runContainer } from "./dockerActs";

/** Replaces the mock monitor's secret wrappers by their values: a provider sees secrets as plain values. */
function unwrap(value: any): any {
    if (Array.isArray(value)) return value.map(unwrap);
    if (value && typeof value === "object" && !pulumi.asset.Asset.isInstance(value) && !pulumi.asset.Archive.isInstance(value)) {
        if (value[rpc.specialSigKey] === rpc.specialSecretSig) return unwrap(value.value);
        const out: Record<string, any> = {};
        for (const k of Object.keys(value)) out[k] = unwrap(value[k]);
        return out;
    }
    return value;
}

function bash(script: string, env: Record<string, string> | undefined): Promise<{ code: number; stdout: string; stderr: string }> {
    return new Promise((resolve, reject) => {
        const child = spawn("bash", ["-c", script], { env: { ...process.env, ...(env ?? {}) }, stdio: ["ignore", "pipe", "pipe"] });
        let stdout = "";
        let stderr = "";
        child.stdout.on("data", (d) => (stdout += d));
        child.stderr.on("data", (d) => (stderr += d));
        child.on("error", reject);
        child.on("close", (code) => resolve({ code: code ?? -1, stdout, stderr }));
    });
}

/**
 * An `act` for RecordingMocks that creates what the local target's resources describe, for real: the
 * image built by the local Docker engine, the container run, local commands (the health check) run by
 * bash. A failing action fails the program with its output.
 */
export function localTargetAct(builds?: BuildRecord[]) {
    return async (args: pulumi.runtime.MockResourceArgs): Promise<Record<string, any> | undefined> => {
        const inputs = unwrap(args.inputs);
        switch (args.type) {
            case "docker:index/image:Image":
                return buildImage(inputs, builds);
            case "docker:index/container:Container":
                return runContainer(inputs);
            case "command:local:Command": {
                const r = await bash(inputs.create, inputs.environment);
                if (r.code !== 0) throw new Error(`create of ${args.name} failed (exit ${r.code}):\nstdout: ${r.stdout}\nstderr: ${r.stderr}`);
                return { stdout: r.stdout.replace(/\n$/, ""), stderr: r.stderr.replace(/\n$/, "") };
            }
            default:
                return undefined;
        }
    };
}

/**
 * Wraps an act the way the real engine treats a failed resource: the failure is recorded (the update
 * fails) and the resource never answers, so its dependents never run; nothing is thrown into the program.
 */
export function failingLikeTheEngine(act: (args: pulumi.runtime.MockResourceArgs) => Promise<Record<string, any> | undefined>) {
    const failures: Error[] = [];
    const wrapped = async (args: pulumi.runtime.MockResourceArgs) => {
        try {
            return await act(args);
        } catch (e) {
            failures.push(e as Error);
            return new Promise<never>(() => undefined);
        }
    };
    return { act: wrapped, failures };
}
