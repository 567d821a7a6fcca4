import * as command from "@pulumi/command";
import * as pulumi from "@pulumi/pulumi";
import { ValidationError } from "../errors";
import { HostConnection } from "./connection";
import { Arch, Host } from "./host";
import { existingServerCheckScript } from "./readiness";
import { checkHostAddress, checkPrivateKey } from "./validate";
import { at, checkLater, checkOneOf, checkPort, checkUserName, FieldPath, PlanHandoff, planned } from "../validate";

/** The arguments of an SshHost: how to reach a server that already exists. */
export interface SshHostArgs {
    /** The server's DNS name or IP address (no scheme, user or port). */
    readonly host: pulumi.Input<string>;
    /** sshd's port. Default 22. */
    readonly port?: pulumi.Input<number>;
    /** The login user; it must be root or able to `sudo` without a password. Default "root". */
    readonly user?: pulumi.Input<string>;
    /** The private key (a secret) that logs in as `user`. */
    readonly privateKey: pulumi.Input<string>;
    /** The server's CPU architecture; checked against `uname -m` before the connection is handed out. Default "amd64". */
    readonly arch?: Arch;
}

/**
 * An existing server (a VPS, a machine in a rack) that releases deploy to over SSH. It creates nothing
 * on the server: before handing out its `connection` it logs in once to check that the key works,
 * that the user can sudo, and that the architecture is the one declared.
 */
export class SshHost extends pulumi.ComponentResource implements Host {
    /** How releases reach the host; a secret, available once the server answered the check. */
    readonly connection: pulumi.Output<HostConnection>;
    /** The server's address as given in `host` (DNS name or IP): where the app answers. */
    readonly address: pulumi.Output<string>;
    /** The declared (and checked) architecture. */
    readonly arch: pulumi.Output<Arch>;

    constructor(name: string, args: SshHostArgs, opts?: pulumi.ComponentResourceOptions) {
        // Checked before anything is registered, the component included: bad input leaves nothing behind.
        const { arch, host, port, user, privateKey } = sshHostPlans.take(args) ?? planSshHost(args);
        super("lisp-deploy:index:SshHost", name, {}, opts);

        const check = new command.remote.Command(
            `${name}-check`,
            {
                connection: { host, port, user, privateKey },
                create: existingServerCheckScript(arch),
                // Pointing at another server (or another login) must check that server again.
                triggers: [host, port, user],
            },
            { parent: this },
        );

        this.address = host;
        this.arch = pulumi.output(arch);
        // Built from the check's output, so a release waits until the server has answered.
        this.connection = pulumi.secret(
            pulumi.all([check.stdout, host, port, user, privateKey]).apply(([, h, p, u, k]) => ({ host: h, port: p, user: u, privateKey: k })),
        );
        this.registerOutputs({ connection: this.connection, address: this.address, arch: this.arch });
    }
}

/** The checked arguments of an SshHost: plain values checked now, Outputs as they resolve. @internal */
export type SshHostPlan = ReturnType<typeof planSshHost>;

/** Plans made by a WebApp for the SshHost it creates. @internal */
export const sshHostPlans = new PlanHandoff<SshHostArgs, SshHostPlan>();

/**
 * Plans an SshHost: every plain argument checked now (all problems at once, under `field`), the values known
 * only later checked with the same messages as they resolve.
 * @internal
 */
export function planSshHost(args: SshHostArgs, field: FieldPath = "args") {
    return planned((problems) => {
        if (args === undefined || args === null) {
            throw new ValidationError(at(field, ""), "SshHost needs arguments: at least host and privateKey.");
        }
        if (args.host === undefined) {
            problems.add(at(field, "host"), 'is required: give the server\'s DNS name or IP address, e.g. "203.0.113.7".');
        }
        if (args.privateKey === undefined) {
            problems.add(at(field, "privateKey"), 'is required: pass the SSH private key as a secret (e.g. config.requireSecret("sshPrivateKey")).');
        }
        const arch: Arch = args.arch ?? "amd64";
        problems.check(() => checkOneOf(at(field, "arch"), arch, ["amd64", "arm64"]));
        const host = problems.check(() => args.host !== undefined ? checkLater(args.host, (h) => checkHostAddress(h, at(field, "host"))) : undefined);
        const port = problems.check(() => checkLater(args.port ?? 22, (p) => checkPort(at(field, "port"), p)));
        const user = problems.check(() => checkLater(args.user ?? "root", (u) => checkUserName(at(field, "user"), u)));
        const privateKey = problems.check(() => args.privateKey !== undefined ? pulumi.secret(checkLater(args.privateKey, (k) => checkPrivateKey(k, at(field, "privateKey")))) : undefined);
        problems.throwIfAny();
        return { arch, host: host!, port: port!, user: user!, privateKey: privateKey! };
    });
}
