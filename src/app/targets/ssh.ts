import { SshHost, sshHostPlans } from "../../host/sshHost";
import { TargetOutputs } from "../args";
import { logsCommandOf, newSystemdRelease, sshCommandOf, TargetContext } from "./common";

/** An existing server over SSH: an SshHost (checked once) and a SystemdRelease on it. */
export function wireSsh(ctx: TargetContext): TargetOutputs {
    const { parent, name, args, plan } = ctx;
    const ssh = args.target!.ssh!;
    const hostArgs = { host: ssh.host, port: ssh.port, user: ssh.user, privateKey: ssh.privateKey };
    const host = new SshHost(`${name}-host`, sshHostPlans.give(hostArgs, plan.sshHost!), { parent });
    const release = newSystemdRelease(ctx, host.connection, ssh.swankPort, ssh.zeroDowntime);
    return {
        url: release.url,
        unit: release.unit,
        sshCommand: sshCommandOf(host.connection),
        swankTunnel: release.swankTunnel,
        logsCommand: logsCommandOf(host.connection, plan.release!),
        releaseId: release.releaseId,
        keptReleases: release.keptReleases,
    };
}
