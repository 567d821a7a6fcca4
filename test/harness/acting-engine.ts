import * as crypto from "crypto";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import * as pulumi from "@pulumi/pulumi";
import { BuildRecord, buildImage, removeContainer, runContainer } from "./dockerActs";
import { RecordingMocks, unwrapSecrets } from "./mocks";
import { run, RunResult } from "../../support/run";
import { sshOptions } from "../../support/systemd-host";

/**
 * The SDK's wait for its RPC queue to drain (what `pulumi.runtime.disconnect` awaits before a program
 * exits). It is marked internal, so it is not in the type declarations.
 */
// eslint-disable-next-line @typescript-eslint/no-require-imports
const { waitForRPCs } = require("@pulumi/pulumi/runtime/settings") as { waitForRPCs: () => Promise<void> };

/** One resource as the stand-in engine remembers it between program runs. */
interface StateEntry {
    type: string;
    name: string;
    /** Inputs with assets replaced by their path and content hash (what decides "changed"). */
    fingerprint: string;
    inputs: Record<string, any>;
    outputs: Record<string, any>;
}

/** Stand-ins for providers the engine has no real action for (AWS's API in the examples' tests). */
export interface OtherProviders {
    /** Performs `op` on a resource of `type` and answers its outputs; undefined: not this stand-in's type. */
    act?: (op: Action["op"], type: string, name: string, inputs: Record<string, any>) => Promise<Record<string, any> | undefined>;
    /** Answers an invoke (a data source such as aws:ec2/getAmi). */
    call?: (args: pulumi.runtime.MockCallArgs) => Record<string, any>;
}

/** One real action the engine performed, in order: what tests assert ("nothing ran the second time"). */
export interface Action {
    op: "create" | "update" | "delete";
    type: string;
    name: string;
    /** When the real action finished (ms since the epoch); benchmarks measure from it. */
    finishedAt?: number;
}

/**
 * A stand-in for the Pulumi engine (the CLI cannot be installed on these machines) that performs the
 * real actions a program's resources describe, keeping state across program runs like a stack does:
 * per resource (type + name), create on first sight, update when its inputs changed (a Command's
 * `update` text, or `create` when it has none), nothing when unchanged, and `delete` for resources gone
 * from the program or when the stack is destroyed (newest first).
 *
 * - `command:remote:Command`: runs the command over real OpenSSH, key in a 0600 temp file, stdin piped;
 * - `command:remote:CopyToRemote`: a real scp (SFTP) upload;
 * - `command:local:Command`: a real local shell;
 * - `docker:index/image:Image`: a real classic-builder `docker build` (test/harness/dockerActs.ts);
 * - `docker:index/container:Container`: a real `docker create`/`start` (replaced on any change, as the
 *   provider replaces a container whose image or environment changed), `docker rm -f` on delete.
 *
 * A failed action fails the run (its error carries the command's stderr), keeps the resource's old state
 * and skips deletions, as a failed `pulumi up` does.
 */
export class ActingEngine {
    private readonly state = new Map<string, StateEntry>();
    /** Every real action performed, in order. */
    readonly actions: Action[] = [];
    /** Every image build performed, with its output (which stages came from cache). */
    readonly builds: BuildRecord[] = [];

    constructor(
        private readonly project = "lisp-deploy",
        private readonly stack = "acting",
        /** Stand-ins for other providers (AWS's API): an act per resource type, and answers to invokes. */
        private readonly others: OtherProviders = {},
    ) {}

    /** Runs `program` like `pulumi up` and returns what it returned (its outputs resolve afterwards). */
    async up<T>(program: () => T): Promise<T> {
        const seen = new Set<string>();
        const failures: Error[] = [];
        let inflight = 0;
        let lastActivity = Date.now();
        const mocks = new RecordingMocks(async (args) => {
            inflight++;
            lastActivity = Date.now();
            const key = `${args.type}::${args.name}`;
            seen.add(key);
            try {
                return await this.apply(key, args);
            } catch (e) {
                failures.push(e as Error);
                // Like the real engine: dependents of a failed resource never run.
                inflight--;
                lastActivity = Date.now();
                return new Promise<never>(() => undefined);
            }
        }, this.others.call);
        // A successful answer is counted once the mock monitor has it; a failure was counted in the catch.
        const answered = mocks.newResource.bind(mocks);
        mocks.newResource = async (a) => {
            const result = await answered(a);
            inflight--;
            lastActivity = Date.now();
            return result;
        };
        await pulumi.runtime.setMocks(mocks, this.project, this.stack, false);
        const result = program();
        // Done is when the SDK's own RPC queue has drained, the signal the real Node runtime waits for
        // before it exits: every registration (including those made inside applies) answered. Guessing
        // from a quiet spell instead ran deletions in the middle of slow updates on a loaded machine.
        // A failed resource never answers (its dependents must not run), so a failure with nothing else
        // in flight ends the run too.
        const drained: Promise<void> = waitForRPCs();
        const failedAndSettled = new Promise<void>((resolve) => {
            const timer = setInterval(() => {
                if (failures.length > 0 && inflight === 0 && Date.now() - lastActivity > 400) {
                    clearInterval(timer);
                    resolve();
                }
            }, 100);
            drained.finally(() => clearInterval(timer));
        });
        await Promise.race([drained, failedAndSettled]);
        if (failures.length === 0 && result && typeof (result as any).then === "function") {
            await Promise.race([result, failedAndSettled]);
        }
        if (failures.length > 0) {
            throw new Error(`update failed:\n${failures.map((f) => f.message).join("\n---\n")}`);
        }
        for (const key of [...this.state.keys()].reverse()) {
            if (!seen.has(key)) await this.remove(key);
        }
        return result;
    }

    /** Deletes every resource of the stack, newest first, like `pulumi destroy`. */
    async destroy(): Promise<void> {
        for (const key of [...this.state.keys()].reverse()) await this.remove(key);
    }

    /** The current state's inputs of one resource (after a successful action), for assertions. */
    inputsOf(type: string, name: string): Record<string, any> | undefined {
        return this.state.get(`${type}::${name}`)?.inputs;
    }

    private async apply(key: string, raw: pulumi.runtime.MockResourceArgs): Promise<Record<string, any>> {
        // A provider sees secrets as plain values; only state and display keep them wrapped.
        const args = { ...raw, inputs: unwrapSecrets(raw.inputs) };
        const fingerprint = await fingerprintOf(args.inputs);
        const previous = this.state.get(key);
        let outputs: Record<string, any>;
        if (!previous) {
            outputs = await this.perform("create", args.type, args.name, args.inputs);
        } else if (previous.fingerprint !== fingerprint) {
            outputs = await this.perform("update", args.type, args.name, args.inputs);
        } else {
            return previous.outputs;
        }
        // Updates keep the resource's place in the creation order, so destroy stays newest-first.
        this.state.set(key, { type: args.type, name: args.name, fingerprint, inputs: args.inputs, outputs });
        return outputs;
    }

    private async remove(key: string): Promise<void> {
        const entry = this.state.get(key)!;
        await this.perform("delete", entry.type, entry.name, entry.inputs);
        this.state.delete(key);
    }

    private async perform(op: Action["op"], type: string, name: string, inputs: Record<string, any>): Promise<Record<string, any>> {
        // ACTING_TRACE=1 shows progress while a long run (an image build, a host booting) is under way.
        if (process.env.ACTING_TRACE) process.stderr.write(`acting: ${op} ${type} ${name}\n`);
        const before = this.actions.length;
        try {
            return await this.performOnce(op, type, name, inputs);
        } finally {
            if (this.actions.length > before) this.actions[this.actions.length - 1].finishedAt = Date.now();
        }
    }

    private async performOnce(op: Action["op"], type: string, name: string, inputs: Record<string, any>): Promise<Record<string, any>> {
        const text: string | undefined =
            op === "delete" ? inputs.delete : op === "update" ? inputs.update ?? inputs.create : inputs.create;
        switch (type) {
            case "command:remote:Command": {
                this.actions.push({ op, type, name });
                if (!text) return {};
                const r = await withKey(inputs.connection, (ssh) =>
                    dialing(inputs.connection, () => run("ssh", [...ssh("-p"), target(inputs.connection), text], { input: inputs.stdin })),
                );
                return outputsOrThrow(op, name, r);
            }
            case "command:local:Command": {
                this.actions.push({ op, type, name });
                if (!text) return {};
                const r = await run("bash", ["-c", text], { input: inputs.stdin, cwd: inputs.dir, env: { ...process.env, ...(inputs.environment ?? {}) } });
                return outputsOrThrow(op, name, r);
            }
            case "command:remote:CopyToRemote": {
                this.actions.push({ op, type, name });
                // The provider leaves uploaded files in place on delete; the release's own delete removes them.
                if (op === "delete") return {};
                const source = await assetPath(inputs.source);
                const r = await withKey(inputs.connection, (ssh) =>
                    run("scp", [...ssh("-P"), "-q", source, `${target(inputs.connection)}:${inputs.remotePath}`]),
                );
                outputsOrThrow(op, name, r);
                return {};
            }
            case "docker:index/image:Image": {
                this.actions.push({ op, type, name });
                // Deleting an image leaves it in the engine's cache, as `pulumi destroy` with skipPush does.
                return op === "delete" ? {} : buildImage(inputs, this.builds);
            }
            case "docker:index/container:Container": {
                this.actions.push({ op, type, name });
                if (op === "delete") {
                    await removeContainer(inputs);
                    return {};
                }
                return runContainer(inputs);
            }
            default: {
                const acted = this.others.act ? await this.others.act(op, type, name, inputs) : undefined;
                if (acted !== undefined) {
                    this.actions.push({ op, type, name });
                    return acted;
                }
                // Components and other custom resources: nothing real to do, state is their inputs.
                return {};
            }
        }
    }
}

function target(connection: { user: string; host: string }): string {
    return `${connection.user}@${connection.host}`;
}

/** Writes the connection's private key to a 0600 file for the duration of one action. */
async function withKey<T>(connection: { privateKey: string; port: number }, action: (ssh: (portFlag: string) => string[]) => Promise<T>): Promise<T> {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "acting-key-"));
    const keyFile = path.join(dir, "key");
    fs.writeFileSync(keyFile, connection.privateKey.endsWith("\n") ? connection.privateKey : `${connection.privateKey}\n`, { mode: 0o600 });
    try {
        return await action((portFlag) => sshOptions(keyFile, connection.port, portFlag));
    } finally {
        fs.rmSync(dir, { recursive: true, force: true });
    }
}

/**
 * Like @pulumi/command: a connection that cannot be dialled yet (a new machine's sshd not up yet, or
 * refusing a key cloud-init has not installed yet) is retried once a second, up to the connection's
 * `dialErrorLimit` (the provider's default: 10), as the provider retries a failed dial. Failures of the
 * command itself are never retried.
 */
async function dialing(connection: { dialErrorLimit?: number }, attempt: () => Promise<RunResult>): Promise<RunResult> {
    const limit = connection.dialErrorLimit ?? 10;
    for (let dials = 1; ; dials++) {
        const r = await attempt();
        const unreachable = r.code === 255 && /Connection refused|Connection timed out|Connection reset|No route to host|kex_exchange_identification|Connection closed by|Permission denied \(publickey/.test(r.stderr);
        if (!unreachable || dials >= limit) return r;
        await new Promise((resolve) => setTimeout(resolve, 1000));
    }
}

function outputsOrThrow(op: string, name: string, r: RunResult): Record<string, any> {
    if (r.code !== 0) {
        throw new Error(`${op} of ${name} failed (exit ${r.code}):\nstdout: ${r.stdout}\nstderr: ${r.stderr}`);
    }
    return { stdout: r.stdout.replace(/\n$/, ""), stderr: r.stderr.replace(/\n$/, "") };
}

async function assetPath(asset: any): Promise<string> {
    if (!pulumi.asset.Asset.isInstance(asset) || !(asset as pulumi.asset.FileAsset).path) {
        throw new Error("the acting engine uploads FileAssets only");
    }
    return await (asset as pulumi.asset.FileAsset).path;
}

/**
 * A stable text of the inputs: keys sorted, assets replaced by path + content hash (the real engine
 * hashes asset contents too, so the same path with a new build is a change).
 */
async function fingerprintOf(value: any): Promise<string> {
    const normalize = async (v: any): Promise<any> => {
        if (pulumi.asset.Asset.isInstance(v)) {
            const p = await (v as pulumi.asset.FileAsset).path;
            return { asset: p, sha256: crypto.createHash("sha256").update(fs.readFileSync(p)).digest("hex") };
        }
        if (Array.isArray(v)) return Promise.all(v.map(normalize));
        if (v && typeof v === "object") {
            const out: Record<string, any> = {};
            for (const k of Object.keys(v).sort()) out[k] = await normalize(v[k]);
            return out;
        }
        return v;
    };
    return JSON.stringify(await normalize(value));
}
