import * as pulumi from "@pulumi/pulumi";
import { imagePlans, LispImage } from "../image/lispImage";
import { TargetKind, TargetOutputs, WebAppArgs } from "./args";
import { planWebApp } from "./plan";
import { withoutNulls } from "../validate";
import { TargetContext } from "./targets/common";
import { wireEc2 } from "./targets/ec2";
import { wireHeroku } from "./targets/heroku";
import { wireLocal } from "./targets/local";
import { wireSsh } from "./targets/ssh";

// WebApp is thin: its arguments live in ./args, its planning (every child planned with the user's field
// paths) in ./plan, and the wiring of each target in ./targets/<kind>.
export * from "./args";
export { MAX_EC2_HOSTS, planEc2Fleet, planWebApp } from "./plan";
export type { WebAppPlan } from "./plan";

/** Each target kind's wiring: creates the host(s) and release from the plans, returns the outputs. */
const WIRING: Record<TargetKind, (ctx: TargetContext) => TargetOutputs> = {
    local: wireLocal,
    ec2: wireEc2,
    ssh: wireSsh,
    heroku: wireHeroku,
};

/**
 * A Common Lisp web app, deployed: one object naming the app and a target. It builds the app's image
 * (LispImage) and runs it on the target, the local Docker engine by default, and outputs the `url` plus
 * what a reviewer and an operator need next: the rendered Dockerfile, unit and user data (so a preview
 * diff shows them), the SSH, Swank-tunnel and log commands.
 *
 * @example
 * const app = new WebApp("hello", {
 *     app: { path: "../hello", runtimePackages: ["libssl3"], environment: { GREETING: "hi" } },
 *     target: { kind: "local", local: { port: 8080 } },
 * });
 * export const url = app.url;
 */
export class WebApp extends pulumi.ComponentResource {
    /** Where the app answers. */
    readonly url: pulumi.Output<string>;
    /** The target this app runs on. */
    readonly targetKind: pulumi.Output<string>;
    /** The image the release runs (image id or `name@sha256:...`). */
    readonly imageRef: pulumi.Output<string>;
    /** The rendered Dockerfile. */
    readonly dockerfile: pulumi.Output<string>;
    /** The rendered systemd unit (ec2 and ssh targets; empty otherwise). */
    readonly unit: pulumi.Output<string>;
    /** The rendered cloud-init user data (ec2 target; empty otherwise). */
    readonly userData: pulumi.Output<string>;
    /** The command that opens a shell on the host (ec2 and ssh targets; empty otherwise). */
    readonly sshCommand: pulumi.Output<string>;
    /**
     * The command that tunnels Swank to this machine (when a swankPort is set; empty otherwise). With
     * `zeroDowntime` it reaches the slot live after the last release, so it is known only after an update.
     */
    readonly swankTunnel: pulumi.Output<string>;
    /** The command that follows the app's log (on the first host, with several; both slots' units with `zeroDowntime`). */
    readonly logsCommand: pulumi.Output<string>;
    /**
     * One command per host that follows the app's log, in host order: `ssh ... journalctl -fu <unit>` on
     * ec2 and ssh (both slots' units with `zeroDowntime`), `docker logs -f` locally, `heroku logs --tail` on
     * heroku; one element on a single host. `logsCommand` is the first.
     */
    readonly logsCommands: pulumi.Output<string[]>;
    /** One SSH command per host, in host order (ec2 and ssh targets; empty otherwise). `sshCommand` is the first. */
    readonly sshCommands: pulumi.Output<string[]>;
    /** One Swank tunnel command per host, in host order, when a swankPort is set; empty otherwise. */
    readonly swankTunnels: pulumi.Output<string[]>;
    /** The release serving on the host(s) (ec2 and ssh targets; empty otherwise): the executable's short sha256, or `rollbackTo`. */
    readonly releaseId: pulumi.Output<string>;
    /** The release ids the host keeps, newest first, read back after each release (ec2 and ssh; the last host of a fleet): what `app.rollbackTo` can name. */
    readonly keptReleases: pulumi.Output<string[]>;

    constructor(name: string, args: WebAppArgs, opts?: pulumi.ComponentResourceOptions) {
        args = withoutNulls(args);
        // Every child is planned from the user's own arguments before anything is registered: bad input
        // fails with one error listing every problem, and leaves nothing behind.
        const plan = planWebApp(name, args);
        super("lisp-deploy:index:WebApp", name, {}, opts);

        // The wiring hands each child the plan made for it, so nothing is validated (or read) twice.
        const image = new LispImage(`${name}-image`, imagePlans.give(plan.image.args, plan.image.plan), { parent: this });
        const outputs = WIRING[plan.kind]({ parent: this, name, args, plan, image });

        const empty = pulumi.output("");
        this.url = outputs.url;
        this.targetKind = pulumi.output(plan.kind);
        this.imageRef = image.imageRef;
        this.dockerfile = image.dockerfile;
        this.unit = outputs.unit ?? empty;
        this.userData = outputs.userData ?? empty;
        this.sshCommand = outputs.sshCommand ?? empty;
        this.swankTunnel = outputs.swankTunnel ? outputs.swankTunnel.apply((t) => t ?? "") : empty;
        this.logsCommand = outputs.logsCommand ?? empty;
        this.logsCommands = outputs.logsCommands ?? this.logsCommand.apply((c) => (c ? [c] : []));
        this.sshCommands = outputs.sshCommands ?? (outputs.sshCommand ? outputs.sshCommand.apply((c) => [c]) : pulumi.output([]));
        this.swankTunnels = outputs.swankTunnels ?? this.swankTunnel.apply((t) => (t ? [t] : []));
        this.releaseId = outputs.releaseId ?? empty;
        this.keptReleases = outputs.keptReleases ?? pulumi.output([]);
        this.registerOutputs({
            url: this.url,
            targetKind: this.targetKind,
            imageRef: this.imageRef,
            dockerfile: this.dockerfile,
            unit: this.unit,
            userData: this.userData,
            sshCommand: this.sshCommand,
            swankTunnel: this.swankTunnel,
            logsCommand: this.logsCommand,
            logsCommands: this.logsCommands,
            sshCommands: this.sshCommands,
            swankTunnels: this.swankTunnels,
            releaseId: this.releaseId,
            keptReleases: this.keptReleases,
        });
    }
}
