import * as pulumi from "@pulumi/pulumi";

/**
 * How a release reaches a host over SSH. Ec2Host and SshHost both expose one, so a release never
 * needs to know which kind of machine it is talking to. Its shape is what @pulumi/command's
 * `remote.Command` and `remote.CopyToRemote` take as `connection`, so it can be passed straight on.
 */
export interface HostConnection {
    /** Address (IP or DNS name) sshd listens on. */
    host: string;
    /** sshd's port. */
    port: number;
    /** The login user; it must be able to run `sudo` without a password (root needs none). */
    user: string;
    /** The private key in OpenSSH or PEM form. Always a secret output; never log it. */
    privateKey: string;
}

/** The connection as components expose it: every field an Output, the private key a secret. */
export type HostConnectionOutput = pulumi.Output<HostConnection>;
