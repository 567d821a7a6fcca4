import * as command from "@pulumi/command";
import * as pulumi from "@pulumi/pulumi";
import { ValidationError } from "../errors";
import { HostConnection } from "./connection";
import { Arch, Host } from "./host";
import { existingServerCheckScript } from "./readiness";
import { checkHostAddress, checkPort, checkPrivateKey, checkUserName, checked } from "./validate";

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
        const { arch, host, port, user, privateKey } = prepareSshHostArgs(args);
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

/** Validates an SshHost's arguments: plain values now, Outputs as they resolve. */
function prepareSshHostArgs(args: SshHostArgs) {
    if (args === undefined || args === null) {
        throw new ValidationError("args", "SshHost needs arguments: at least host and privateKey.");
    }
    if (args.host === undefined) {
        throw new ValidationError("args.host", 'is required: give the server\'s DNS name or IP address, e.g. "203.0.113.7".');
    }
    if (args.privateKey === undefined) {
        throw new ValidationError("args.privateKey", 'is required: pass the SSH private key as a secret (e.g. config.requireSecret("sshPrivateKey")).');
    }
    const arch: Arch = args.arch ?? "amd64";
    if (arch !== "amd64" && arch !== "arm64") {
        throw new ValidationError("args.arch", `must be "amd64" or "arm64"; got ${JSON.stringify(args.arch)}.`);
    }
    const host = checked(args.host, (h) => checkHostAddress(h, "args.host"));
    const port = checked(args.port ?? 22, (p) => checkPort(p, "args.port"));
    const user = checked(args.user ?? "root", (u) => checkUserName(u, "args.user"));
    const privateKey = pulumi.secret(checked(args.privateKey, (k) => checkPrivateKey(k, "args.privateKey")));
    return { arch, host, port, user, privateKey };
}
